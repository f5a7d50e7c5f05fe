/**
 * A decoding-lab column's form (panels/lab.ts): the preset with its explanation, the sampler
 * and its options (beam search, speculative decoding), and the processor chain — add,
 * reorder with ↑/↓, remove — each parameter checked as it is typed, the message beside it
 * naming the parameter and its range.
 */
import { el, fieldError, setFieldError } from './dom';
import {
  BEAM_RANGE,
  checkBeamGroups,
  checkDiversity,
  checkList,
  checkParam,
  DIVERSITY_PENALTY_RANGE,
  DRAFT_LAYERS_RANGE,
  DRAFT_TOKENS_RANGE,
  item,
  LENGTH_PENALTY_RANGE,
  PRESETS,
  presetForm,
  PROCESSOR_ORDER,
  PROCESSORS,
  rangeText,
  type ParamRange,
  type StrategyForm,
} from './lab-params';

/** A column's form: its strategy and, for a branch, the ids it starts from. */
export interface ColumnForm extends StrategyForm {
  forced?: number[];
}

/** What a column's form tells the panel. */
export interface ColumnFormHost {
  /** How many columns there are (the last one cannot be removed). */
  count: number;
  /** The loaded model's vocabulary size, when known (ids are checked against it). */
  vocabSize?: number;
  /** The user's other loadable models, offered as speculative drafts. */
  draftModels?: { id: string; name: string }[];
  /** A field changed; `rebuild`: the form's structure did (draw it again). */
  changed(rebuild: boolean): void;
  /** A preset replaced the whole form. */
  replace(f: ColumnForm): void;
  remove(): void;
}

export function iconButton(label: string, text: string, disabled: boolean, onClick: () => void): HTMLElement {
  const b = el('button', { class: 'icon-btn', 'aria-label': label, title: label }, text);
  if (disabled) b.setAttribute('disabled', '');
  b.addEventListener('click', onClick);
  return b;
}

/**
 * A column's form: preset, explanation, sampler and its options, the chain (reorder, remove,
 * add). It edits `f` in place and tells `host` (rebuild: the form's structure changed).
 */
export function columnForm(i: number, f: ColumnForm, host: ColumnFormHost): HTMLElement {
  const changed = (rebuild = false) => host.changed(rebuild);
  const box = el('div', { class: 'lab-form' });
  const preset = el('select', { id: `lab-preset-${i}`, 'aria-label': `Column ${i + 1} preset` }) as HTMLSelectElement;
  for (const p of PRESETS) preset.append(el('option', { value: p.id, ...(p.id === f.preset ? { selected: '' } : {}) }, p.label));
  preset.addEventListener('change', () => {
    host.replace(presetForm(preset.value));
  });
  const remove = iconButton(host.count <= 1 ? 'The only column cannot be removed' : `Remove column ${i + 1}`, '✕', host.count <= 1, () => host.remove());
  box.append(el('h3', {}, el('span', { id: `lab-label-${i}` }, `${i + 1}. ${f.label}`), remove));
  box.append(preset);
  const explain = PRESETS.find((p) => p.id === f.preset)?.explain ?? '';
  box.append(el('p', { class: 'muted', id: `lab-explain-${i}` }, explain));
  if (f.forced) box.append(el('p', { class: 'muted' }, `Branch: starts from ${f.forced.length} forced token${f.forced.length === 1 ? '' : 's'} (dotted underline).`));
  const kind = el('select', { id: `lab-kind-${i}`, 'aria-label': `Column ${i + 1} sampler` }) as HTMLSelectElement;
  for (const [v, t] of [
    ['greedy', 'greedy (argmax)'],
    ['sample', 'sample (seeded)'],
    ['beam', 'beam search'],
    ['speculative', 'speculative (draft + check)'],
  ] as const)
    kind.append(el('option', { value: v, ...(v === f.kind ? { selected: '' } : {}) }, t));
  kind.addEventListener('change', () => {
    f.kind = kind.value as StrategyForm['kind'];
    f.preset = 'custom';
    changed(true);
  });
  box.append(el('label', { class: 'field' }, 'Sampler ', kind));
  if (f.kind === 'beam') {
    const nb = el(
      'label',
      { class: 'field', for: `lab-beams-${i}` },
      'num_beams ',
      paramInput(
        `lab-beams-${i}`,
        'num_beams',
        f.beam.numBeams,
        BEAM_RANGE,
        (v) => (f.beam.numBeams = v),
        () => changed(),
      ),
    );
    const lp = el(
      'label',
      { class: 'field', for: `lab-lp-${i}` },
      'length_penalty ',
      paramInput(
        `lab-lp-${i}`,
        'length_penalty',
        f.beam.lengthPenalty,
        LENGTH_PENALTY_RANGE,
        (v) => (f.beam.lengthPenalty = v),
        () => changed(),
      ),
    );
    const es = el('input', { type: 'checkbox', id: `lab-es-${i}`, ...(f.beam.earlyStopping ? { checked: '' } : {}) }) as HTMLInputElement;
    es.addEventListener('change', () => {
      f.beam.earlyStopping = es.checked;
      changed();
    });
    const beams = () => Number(f.beam.numBeams) || 1;
    const ng = el(
      'label',
      { class: 'field', for: `lab-ng-${i}`, title: 'Diverse beam search: the beams split into this many groups (a divisor of num_beams)' },
      'num_beam_groups ',
      checkedInput(
        `lab-ng-${i}`,
        `num_beam_groups, a whole number dividing num_beams`,
        f.beam.numBeamGroups ?? '1',
        (text) => checkBeamGroups(text, beams()),
        (v) => (f.beam.numBeamGroups = v),
        () => changed(),
      ),
    );
    const dp = el(
      'label',
      { class: 'field', for: `lab-dp-${i}`, title: "Subtracted per earlier group's pick of the same token at the same step" },
      'diversity_penalty ',
      checkedInput(
        `lab-dp-${i}`,
        `diversity_penalty, ${rangeText(DIVERSITY_PENALTY_RANGE)}`,
        f.beam.diversityPenalty ?? '0',
        (text) => checkDiversity(text, Number(f.beam.numBeamGroups ?? '1') || 1),
        (v) => (f.beam.diversityPenalty = v),
        () => changed(),
      ),
    );
    box.append(el('div', {}, nb, lp, el('label', { class: 'field', for: `lab-es-${i}` }, es, ' early_stopping')), el('div', {}, ng, dp));
  }
  if (f.kind === 'speculative') {
    f.speculative ??= { draftLayers: '3', draftTokens: '4', sample: false };
    const sp = f.speculative;
    const dl = el(
      'label',
      { class: 'field', for: `lab-dl-${i}`, title: 'The draft is the model cut after this many layers' },
      'draft_layers ',
      paramInput(
        `lab-dl-${i}`,
        'draft_layers',
        sp.draftLayers,
        DRAFT_LAYERS_RANGE,
        (v) => (sp.draftLayers = v),
        () => changed(),
      ),
    );
    const dt = el(
      'label',
      { class: 'field', for: `lab-dt-${i}`, title: 'Tokens the draft proposes per pass of the full model' },
      'draft_tokens ',
      paramInput(
        `lab-dt-${i}`,
        'draft_tokens',
        sp.draftTokens,
        DRAFT_TOKENS_RANGE,
        (v) => (sp.draftTokens = v),
        () => changed(),
      ),
    );
    const others = host.draftModels ?? [];
    const pick = el('select', { id: `lab-dm-${i}`, 'aria-label': `Column ${i + 1} draft model` }) as HTMLSelectElement;
    pick.append(el('option', { value: '' }, 'early exit (the loaded model’s first draft_layers layers)'));
    for (const o of others) pick.append(el('option', { value: o.id, ...(o.id === sp.draftModel ? { selected: '' } : {}) }, o.name));
    if (sp.draftModel && !others.some((o) => o.id === sp.draftModel)) pick.append(el('option', { value: sp.draftModel, selected: '' }, `${sp.draftModel} (not available)`));
    pick.addEventListener('change', () => {
      sp.draftModel = pick.value || undefined;
      changed(true);
    });
    box.append(
      el(
        'label',
        {
          class: 'field',
          for: `lab-dm-${i}`,
          title: others.length
            ? 'Another model with the same vocabulary drafts; the worker refuses one whose vocabulary differs'
            : 'Add another model (Models view) to draft with it',
        },
        'Draft ',
        pick,
        others.length ? '' : el('span', { class: 'muted' }, ' (no other model to offer: add one in the Models view)'),
      ),
    );
    const smp = el('input', { type: 'checkbox', id: `lab-sm-${i}`, ...(sp.sample ? { checked: '' } : {}) }) as HTMLInputElement;
    smp.addEventListener('change', () => {
      sp.sample = smp.checked;
      changed();
    });
    box.append(
      el(
        'div',
        {},
        dl,
        dt,
        el('label', { class: 'field', for: `lab-sm-${i}`, title: 'Sample with the accept/reject rule (the target distribution is unchanged); off: greedy' }, smp, ' sample'),
      ),
    );
  }
  const chain = el('ol', { class: 'lab-chain', id: `lab-chain-${i}`, 'aria-label': `Column ${i + 1} processor chain, applied in order` });
  f.chain.forEach((it, j) => {
    const info = PROCESSORS[it.name];
    const li = el('li', { 'data-name': it.name, title: info?.explain ?? '' });
    li.append(el('span', { class: 'name' }, `${j + 1}. ${it.name}`));
    if (info?.list) {
      const kind = info.list;
      li.append(
        checkedInput(
          `lab-p-${i}-${j}`,
          kind === 'bias' ? 'logit_bias, "token or id: bias" pairs' : 'bad_words_ids, words or id sequences',
          it.value,
          (text) => checkList(kind, text, host.vocabSize),
          (v) => (it.value = v),
          () => changed(),
          kind === 'bias' ? 'the: -5, 42: 2' : 'hello, 13, 7 8',
        ),
      );
    } else if (info) {
      li.append(
        paramInput(
          `lab-p-${i}-${j}`,
          it.name,
          it.value,
          info.value,
          (v) => (it.value = v),
          () => changed(),
        ),
      );
      if (info.extra)
        li.append(
          paramInput(
            `lab-x-${i}-${j}`,
            `${it.name}.${info.extra.key}`,
            it.extra ?? '',
            info.extra.range,
            (v) => (it.extra = v),
            () => changed(),
          ),
        );
    }
    const move = (d: number) => {
      const [x] = f.chain.splice(j, 1);
      f.chain.splice(j + d, 0, x);
      f.preset = 'custom';
      changed(true);
      document
        .getElementById(`lab-chain-${i}`)
        ?.querySelectorAll('li')
        [j + d]?.querySelector<HTMLElement>(d < 0 ? '.up' : '.down')
        ?.focus();
    };
    const up = iconButton(`Move ${it.name} earlier`, '↑', j === 0, () => move(-1));
    up.classList.add('up');
    const down = iconButton(`Move ${it.name} later`, '↓', j === f.chain.length - 1, () => move(1));
    down.classList.add('down');
    li.append(
      up,
      down,
      iconButton(`Remove ${it.name}`, '✕', false, () => {
        f.chain.splice(j, 1);
        f.preset = 'custom';
        changed(true);
      }),
    );
    chain.append(li);
  });
  if (f.chain.length === 0) chain.append(el('li', { class: 'muted' }, 'No processors: the raw distribution.'));
  box.append(chain);
  const addSel = el('select', { id: `lab-addp-${i}`, 'aria-label': `Add a processor to column ${i + 1}` }) as HTMLSelectElement;
  addSel.append(el('option', { value: '' }, 'Add processor…'));
  for (const n of PROCESSOR_ORDER) addSel.append(el('option', { value: n, title: PROCESSORS[n].explain }, n));
  addSel.addEventListener('change', () => {
    if (!addSel.value) return;
    f.chain.push(item(addSel.value));
    f.preset = 'custom';
    changed(true);
  });
  box.append(addSel);
  return box;
}

/** A parameter field checked as it is typed: the message beside it names the parameter and its range. */
export function paramInput(id: string, name: string, value: string, range: ParamRange, set: (v: string) => void, onInput: () => void): HTMLElement {
  return checkedInput(id, `${name}, ${rangeText(range)}`, value, (text) => checkParam(name, text, range), set, onInput);
}

/** A text field with its own check: `label` names it and what it takes; the check's message shows beside it. */
export function checkedInput(
  id: string,
  label: string,
  value: string,
  test: (text: string) => { ok: true } | { ok: false; message: string },
  set: (v: string) => void,
  onInput: () => void,
  placeholder?: string,
): HTMLElement {
  const input = el('input', { id, type: 'text', 'aria-label': label, title: label, ...(placeholder ? { placeholder } : {}) }) as HTMLInputElement;
  input.value = value;
  const err = fieldError(`${id}-error`);
  const check = () => {
    const c = test(input.value);
    setFieldError(input, err, c.ok ? undefined : c.message);
  };
  input.addEventListener('input', () => {
    set(input.value);
    check();
    onInput();
  });
  check();
  return el('span', {}, input, err);
}
