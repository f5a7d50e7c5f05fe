/**
 * The Cross-check tab's pairing controls: radios for (a) this model, exported to ONNX, or (b)
 * a pair of models from the list, and for (b) a select per side (ONNX model, engine model)
 * or the empty state saying what to add. Native radios and selects, so the keyboard works as
 * everywhere; the rules (defaults, refusals) are xcheck-pair-rules.ts.
 */
import type { ModelSummary } from '../../engine/protocol/index';
import { button, el } from '../dom';
import { isEngine, isOnnx, pairEmpty, resolvePair, type Pairing, type PairPicks } from './xcheck-pair-rules';

/** A model as its select's option reads. */
function optionText(m: ModelSummary, activeId: string | undefined): string {
  const v = m.info?.vocabSize;
  return `${m.name} (${m.load!.format}${v === undefined ? '' : `, vocab ${v.toLocaleString('en-US')}`})${m.id === activeId ? ' — active' : ''}`;
}

export interface PairControls {
  /** The pairing radios. */
  pairing: HTMLElement;
  /** The two selects, or the empty state (shown for the pair pairing). */
  pair: HTMLElement;
  /** Redraws both from the list and the picks (the selects keep their focus). */
  update(models: ModelSummary[], activeId: string | undefined, picks: PairPicks): void;
}

/** The radios and the two selects; `onChange` gets every change the user makes; `showModels` opens the Models list. */
export function pairControls(onChange: (patch: Partial<PairPicks>) => void, showModels: () => void): PairControls {
  const radio = (value: Pairing, label: string) => {
    const r = el('input', { type: 'radio', name: 'xcheck-pairing', id: `xcheck-pairing-${value}`, value }) as HTMLInputElement;
    r.addEventListener('change', () => r.checked && onChange({ pairing: value }));
    return { r, label: el('label', { class: 'xcheck-radio' }, r, ` ${label}`) };
  };
  const exp = radio('export', 'this model, exported to ONNX');
  const pair = radio('pair', 'a pair of models from the list');
  const pairing = el('fieldset', { id: 'xcheck-pairing', class: 'xcheck-pairing' }, el('legend', {}, 'Compare'), exp.label, pair.label);
  const select = (id: string, label: string, key: 'onnx' | 'engine') => {
    const s = el('select', { id, 'aria-label': label }) as HTMLSelectElement;
    s.addEventListener('change', () => onChange({ [key]: s.value }));
    return s;
  };
  const onnx = select('xcheck-onnx', 'ONNX model, run on onnxruntime-web', 'onnx');
  const engine = select('xcheck-engine', 'Model the engine runs', 'engine');
  const emptyText = el('p', { class: 'muted' });
  const empty = el('div', { id: 'xcheck-pair-empty', class: 'empty' }, emptyText, button('Open the Models list', 'list-selection', showModels, false));
  const pickers = el('div', { class: 'row', id: 'xcheck-pickers' }, el('label', {}, 'ONNX model (onnxruntime-web) ', onnx), el('label', {}, 'Engine model ', engine));
  const box = el('div', { id: 'xcheck-pair' }, empty, pickers);
  const fill = (s: HTMLSelectElement, of: ModelSummary[], chosen: ModelSummary | undefined, activeId: string | undefined) => {
    const want = of.map((m) => [m.id, optionText(m, activeId)]);
    const have = [...s.options].map((o) => [o.value, o.text]);
    if (JSON.stringify(want) !== JSON.stringify(have)) s.replaceChildren(...want.map(([v, t]) => el('option', { value: v }, t)));
    s.value = chosen?.id ?? '';
  };
  return {
    pairing,
    pair: box,
    update(models, activeId, picks) {
      exp.r.checked = picks.pairing === 'export';
      pair.r.checked = picks.pairing === 'pair';
      box.hidden = picks.pairing !== 'pair';
      const e = pairEmpty(models);
      empty.hidden = !e;
      emptyText.textContent = e ?? '';
      pickers.hidden = !!e;
      const p = resolvePair(models, activeId, picks);
      fill(onnx, models.filter(isOnnx), p.onnx, activeId);
      fill(engine, models.filter(isEngine), p.engine, activeId);
    },
  };
}
