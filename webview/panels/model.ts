/** The Model panel: the model in use (the bundled stories260K until the user picks another). */
import type { ModelRef } from '../../engine/protocol';
import { el } from '../dom';
import { getState, onHostMessage, setState } from '../host';
import type { Panel } from './panel';

let bundled: ModelRef | undefined = getState<ModelRef>('bundledModel');

export const modelPanel: Panel = {
  id: 'model',
  title: 'Model',
  init(rerender) {
    onHostMessage((msg) => {
      if (msg.type === 'init') {
        bundled = msg.bundledModel;
        setState('bundledModel', bundled);
        rerender();
      }
    });
  },
  render(): HTMLElement {
    const box = el('section', { id: 'model', 'aria-labelledby': 'model-h' });
    box.append(el('h2', { id: 'model-h' }, 'Model'));
    if (!bundled) {
      box.append(el('p', { class: 'muted' }, 'No model yet.'));
    } else {
      box.append(el('p', {}, 'Bundled default: ', el('strong', {}, bundled.name), ` (${bundled.format}; Karpathy's TinyStories 260K-parameter Llama, MIT).`));
    }
    return box;
  },
};
