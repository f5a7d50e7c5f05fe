/**
 * The Decoding panel (the decoding lab): up to four strategies in columns on one prompt and
 * seed, run by the worker one column after another on the loaded model (engine/worker/lab.ts),
 * streaming. Each column has a preset (with its one-line explanation), a reorderable
 * processor chain with checked parameters, and a sampler; a step scrubber picks the step the
 * debugger shows: per stage, the top candidates' probability bars with the named token pinned.
 * Clicking a candidate branches a new column that takes it at that step. Beam search shows its
 * sequences and its tree. A run exports as JSON or CSV through the host's save dialog. The
 * form and the last run are kept in the webview state.
 */
import type { ReplyOf } from '../../engine/protocol/index';
import { MAX_LAB_COLUMNS, MAX_LAB_TOKENS, MAX_LAB_TOP } from '../../engine/protocol/index';
import { adoptStyle, button, el, fieldError, setDisabled, setFieldError } from '../dom';
import { askWorker, postToWorker } from '../engine';
import { getState, request, setState } from '../host';
import { labCsv, labJson, type LabColumnRun, type LabRunExport } from '../lab-export';
import { checkParam, presetForm, strategyFromForm } from '../lab-params';
import { columnForm, type ColumnForm } from '../lab-form';
import { beamTreeView, inspectionView, LAB_STYLE, textView, visible } from '../lab-view';
import { activeSummary, initModels, modelsState, onModelsState, useModel } from '../models';
import type { Panel } from './panel';

interface LabForm {
  prompt: string;
  seed: string;
  maxTokens: string;
  top: string;
  named: string;
  columns: ColumnForm[];
}

interface ColumnState extends LabColumnRun {
  running: boolean;
  ms?: number;
}

interface LabRun extends LabRunExport {
  id: number;
  running: boolean;
  modelId: string;
  columns: ColumnState[];
  error?: string;
  /** Kept without its debugger views (the state's size limit): the texts only. */
  trimmed?: boolean;
}

const DEFAULT_FORM: LabForm = {
  prompt: 'Once upon a time',
  seed: '42',
  maxTokens: '24',
  top: '8',
  named: '',
  columns: [presetForm('greedy'), presetForm('top-p'), presetForm('beam')],
};

const FIELD_RANGES = {
  seed: { min: 0, max: 4294967295, integer: true },
  maxTokens: { min: 1, max: MAX_LAB_TOKENS, integer: true },
  top: { min: 1, max: MAX_LAB_TOP, integer: true },
};

const form: LabForm = { ...DEFAULT_FORM, ...(getState<LabForm>('labForm') ?? {}) };
let run: LabRun | undefined = restoredRun();
let selected = getState<number>('labStep') ?? 0;
let exportNote = '';

function restoredRun(): LabRun | undefined {
  const r = getState<LabRun>('labRun');
  if (!r || !Array.isArray(r.columns)) return undefined;
  return r.running ? { ...r, running: false, columns: r.columns.map((c) => ({ ...c, running: false, stopReason: c.running ? 'interrupted' : c.stopReason })) } : r;
}

/** The most characters of a run kept in the webview state with its debugger views; a larger run is kept without them. */
export const MAX_SAVED_RUN = 4_000_000;

function keptRun(r: LabRun | undefined): LabRun | undefined {
  if (!r || r.running || JSON.stringify(r).length <= MAX_SAVED_RUN) return r;
  return { ...r, trimmed: true, columns: r.columns.map((c) => ({ ...c, steps: c.steps.map(({ inspection: _i, ...s }) => s) })) };
}

let saveTimer: number | undefined;
function save(now = false): void {
  window.clearTimeout(saveTimer);
  const write = () => {
    setState('labForm', form);
    setState('labRun', keptRun(run));
    setState('labStep', selected);
  };
  if (now) write();
  else saveTimer = window.setTimeout(write, 400);
}

// ---------------------------------------------------------------- checks

/** The first problem with the form (it names the field and its range), or undefined. */
function formProblem(): string | undefined {
  for (const [k, label] of [
    ['seed', 'Seed'],
    ['maxTokens', 'Max new tokens'],
    ['top', 'Candidates shown'],
  ] as const) {
    const c = checkParam(label, form[k], FIELD_RANGES[k]);
    if (!c.ok) return c.message;
  }
  for (const [i, f] of form.columns.entries()) {
    const s = strategyFromForm(f, undefined, draftSpec);
    if (!s.ok) return `Column ${i + 1}: ${s.message}`;
    if (f.forced && f.forced.length >= Number(form.maxTokens)) return `Column ${i + 1} branches at step ${f.forced.length}, past Max new tokens (${form.maxTokens}).`;
  }
  if (form.columns.length === 0) return 'Add a column first.';
  return undefined;
}

/** Why Run cannot run now (undefined: it can), with a stable code for tests. */
function blockedReason(): { code: string; text: string } | undefined {
  const m = activeSummary();
  const load = modelsState().load;
  if (!m) return { code: 'no-model', text: 'No model is active.' };
  if (run?.running) return { code: 'running', text: 'Running… (Stop or Escape ends it)' };
  if (!m.load) return { code: 'unusable', text: `${m.name} cannot run: ${m.problem?.message ?? 'it cannot be used'}.` };
  if (load.modelId !== m.id || load.phase !== 'ready') return { code: 'not-loaded', text: `${m.name} is not loaded yet (see the Model tab).` };
  if (!load.summary?.tokenizerKind) return { code: 'no-tokenizer', text: `${m.name} has no tokenizer, so a prompt cannot be turned into tokens.` };
  const p = formProblem();
  if (p) return { code: 'invalid', text: p };
  return undefined;
}

// ---------------------------------------------------------------- running

function strategies() {
  return form.columns.map((f) => {
    const s = strategyFromForm(f, undefined, draftSpec);
    if (!s.ok) throw new Error(s.message);
    return { strategy: s.strategy, ...(f.forced ? { forced: f.forced } : {}) };
  });
}

/** Runs every column (or only `only`, keeping the others' results). */
function start(only?: number[]): void {
  const m = activeSummary();
  if (!m || blockedReason()) return refresh();
  const cols = strategies();
  const keep = only && run && run.modelId === m.id && run.prompt === form.prompt && run.seed === Number(form.seed) && run.maxTokens === Number(form.maxTokens);
  const prev = keep ? run!.columns : [];
  const columns: ColumnState[] = cols.map((c, i) => (only && !only.includes(i) && prev[i] ? prev[i] : { ...c, steps: [], running: true }));
  const which = keep ? only : undefined;
  run = {
    id: 0,
    running: true,
    modelId: m.id,
    prompt: form.prompt,
    promptIds: keep ? run!.promptIds : [],
    seed: Number(form.seed),
    maxTokens: Number(form.maxTokens),
    columns,
    pieces: keep ? run!.pieces : {},
  };
  const named = form.named.trim() ? form.named : undefined;
  const id = askWorker(
    {
      type: 'labRun',
      prompt: form.prompt,
      seed: run.seed,
      maxTokens: run.maxTokens,
      columns: cols,
      top: Number(form.top),
      ...(named ? { named } : {}),
      ...(which ? { only: which } : {}),
    },
    onReply,
  );
  if (id === undefined) run = { ...run, running: false, error: 'The engine worker is not running.' };
  else run.id = id;
  save(true);
  refresh();
}

function stop(): void {
  if (run?.running) postToWorker({ type: 'labStop', id: run.id });
}

function onReply(msg: ReplyOf<'labRun'>): void {
  if (!run || msg.id !== run.id) return;
  switch (msg.type) {
    case 'labStart':
      run.promptIds = msg.promptIds;
      if (msg.named) run.named = msg.named;
      else delete run.named;
      break;
    case 'labStep': {
      const c = run.columns[msg.column];
      if (!c) return;
      Object.assign(run.pieces, msg.pieces);
      const s: LabColumnRun['steps'][number] = { step: msg.step, token: msg.token, text: msg.text };
      if (msg.forced) s.forced = true;
      if (msg.inspection) s.inspection = msg.inspection;
      if (msg.drafted) s.drafted = msg.drafted;
      c.steps[msg.step] = s;
      break;
    }
    case 'labBeam': {
      const c = run.columns[msg.column];
      if (!c) return;
      Object.assign(run.pieces, msg.pieces);
      c.beam = { sequences: msg.sequences, scores: msg.scores, texts: msg.texts, tree: msg.tree };
      break;
    }
    case 'labColumnDone': {
      const c = run.columns[msg.column];
      if (!c) return;
      c.running = false;
      c.stopReason = msg.stopReason;
      c.ms = msg.ms;
      if (msg.error) c.error = msg.error;
      break;
    }
    case 'labDone':
      run.running = false;
      for (const c of run.columns) c.running = false;
      break;
    case 'labError':
      run.running = false;
      run.error = msg.message;
      for (const c of run.columns) c.running = false;
      break;
  }
  save(!run.running);
  scheduleOutputs(!run.running);
}

/** A new column that takes `id` at `step` of column `col` and continues with that column's strategy. */
function branch(col: number, step: number, id: number): void {
  if (!run || run.running) return;
  if (form.columns.length >= MAX_LAB_COLUMNS) {
    exportNote = `At most ${MAX_LAB_COLUMNS} columns: remove one (its ✕) to branch.`;
    return refresh();
  }
  const parent = run.columns[col];
  const f = form.columns[col];
  const prefix = parent.steps.slice(0, step).map((s) => s.token);
  const piece = visible(run.pieces[id] ?? `#${id}`);
  form.columns.push({ ...structuredClone(f), preset: 'custom', label: `${f.label} ↳ step ${step + 1} "${piece}"`, forced: [...prefix, id] });
  selected = step;
  exportNote = '';
  start([form.columns.length - 1]);
  rebuildColumns();
}

async function exportRun(format: 'json' | 'csv'): Promise<void> {
  if (!run) return;
  const content = format === 'json' ? labJson(run) : labCsv(run);
  try {
    const where = await request({ method: 'exportFile', format, content, suggestedName: `decoding-lab.${format}`, title: 'Export the decoding lab run' });
    exportNote = where ? `Saved ${where}` : 'Export cancelled.';
  } catch (e) {
    exportNote = `Export failed: ${e instanceof Error ? e.message : String(e)}`;
  }
  refresh();
}

// ---------------------------------------------------------------- the DOM

let root: HTMLElement | undefined;
let els:
  | {
      empty: HTMLElement;
      body: HTMLElement;
      cols: HTMLElement;
      go: HTMLElement;
      halt: HTMLElement;
      why: HTMLElement;
      add: HTMLElement;
      addWhy: HTMLElement;
      exportJson: HTMLElement;
      exportCsv: HTMLElement;
      note: HTMLElement;
      error: HTMLElement;
      scrub: HTMLInputElement;
      scrubLabel: HTMLElement;
      named: HTMLElement;
    }
  | undefined;
/** Per column: the form part (rebuilt on structural changes) and the output part (redrawn as results come). */
let colEls: { form: HTMLElement; out: HTMLElement }[] = [];

function numberInput(id: string, label: string, key: 'seed' | 'maxTokens' | 'top'): HTMLElement {
  const input = el('input', { id, type: 'text', inputmode: 'numeric', 'aria-label': label, size: '8' }) as HTMLInputElement;
  input.value = form[key];
  const err = fieldError(`${id}-error`);
  const check = () => {
    form[key] = input.value;
    const c = checkParam(label, input.value, FIELD_RANGES[key]);
    setFieldError(input, err, c.ok ? undefined : c.message);
    save();
    refresh();
  };
  input.addEventListener('input', check);
  const c = checkParam(label, input.value, FIELD_RANGES[key]);
  setFieldError(input, err, c.ok ? undefined : c.message);
  return el('label', { class: 'field', for: id }, `${label} `, input, err);
}

function build(): HTMLElement {
  adoptStyle(LAB_STYLE);
  const box = el('section', { id: 'lab', 'aria-labelledby': 'lab-h' });
  box.append(el('h2', { id: 'lab-h' }, 'Decoding lab'));
  const empty = el(
    'div',
    { id: 'lab-empty', class: 'empty' },
    el('p', {}, 'No model is active. The decoding lab runs the active model; choose one to start.'),
    button('Use the bundled stories260K', 'play', () => void useModel('bundled:stories260K'), false),
  );
  const prompt = el('textarea', { id: 'lab-prompt', rows: '2', 'aria-label': 'Prompt' }) as HTMLTextAreaElement;
  prompt.value = form.prompt;
  prompt.addEventListener('input', () => {
    form.prompt = prompt.value;
    save();
  });
  const named = el('input', { id: 'lab-named', type: 'text', size: '10', 'aria-label': 'Pinned token', placeholder: 'e.g. " dog"' }) as HTMLInputElement;
  named.value = form.named;
  named.addEventListener('input', () => {
    form.named = named.value;
    save();
  });
  const go = button('Run', 'play', () => start(), false);
  go.id = 'lab-run';
  go.title = 'Run every column (Ctrl+Enter / Cmd+Enter)';
  const halt = button('Stop', 'debug-stop', stop);
  halt.id = 'lab-stop';
  const why = el('span', { id: 'lab-why', class: 'why', 'aria-live': 'polite' });
  const add = button('Add column', 'add', () => {
    if (form.columns.length >= MAX_LAB_COLUMNS) return;
    form.columns.push(presetForm('top-k'));
    save();
    rebuildColumns();
  });
  add.id = 'lab-add';
  const addWhy = el('span', { id: 'lab-add-why', class: 'why' });
  const exportJson = button('Export JSON', 'json', () => void exportRun('json'));
  exportJson.id = 'lab-export-json';
  const exportCsv = button('Export CSV', 'table', () => void exportRun('csv'));
  exportCsv.id = 'lab-export-csv';
  const note = el('span', { id: 'lab-note', class: 'muted', 'aria-live': 'polite' });
  const error = el('div', { id: 'lab-error', class: 'error', role: 'alert' });
  const scrub = el('input', { id: 'lab-scrub', type: 'range', min: '0', max: '0', step: '1', 'aria-label': 'Step' }) as HTMLInputElement;
  scrub.addEventListener('input', () => {
    selected = Number(scrub.value);
    save();
    scheduleOutputs(true);
  });
  const scrubLabel = el('span', { id: 'lab-scrub-label', class: 'muted' });
  const cols = el('div', { class: 'lab-cols', id: 'lab-cols' });
  const body = el(
    'div',
    { id: 'lab-body' },
    el(
      'p',
      { class: 'muted' },
      'Several decoding strategies on the same model, prompt and seed. Pick a step to see what each stage of the chain did to the distribution; click a candidate to branch.',
    ),
    el('label', { for: 'lab-prompt', class: 'field' }, 'Prompt'),
    prompt,
    el(
      'div',
      { class: 'row' },
      numberInput('lab-seed', 'Seed', 'seed'),
      numberInput('lab-max', 'Max new tokens', 'maxTokens'),
      numberInput('lab-top', 'Candidates shown', 'top'),
      el('label', { class: 'field', for: 'lab-named', title: 'A token to follow at every step: its rank and probability before and after the chain' }, 'Pin token ', named),
    ),
    el('div', { class: 'row' }, go, halt, why),
    el('div', { class: 'row' }, add, addWhy),
    el('div', { class: 'row' }, exportJson, exportCsv, note),
    error,
    el('div', { class: 'row' }, el('label', { for: 'lab-scrub' }, 'Step '), scrub, scrubLabel),
    cols,
  );
  box.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      start();
    } else if (ev.key === 'Escape' && run?.running) stop();
  });
  box.append(empty, body);
  els = { empty, body, cols, go, halt, why, add, addWhy, exportJson, exportCsv, note, error, scrub, scrubLabel, named };
  rebuildColumns();
  return box;
}

/** A model the user has, other than the active one, that the worker can load as a speculative draft. */
function draftSpec(modelId: string) {
  return modelsState().models.find((x) => x.id === modelId && x.id !== activeSummary()?.id)?.load;
}

function rebuildColumns(): void {
  if (!els) return;
  els.cols.replaceChildren();
  colEls = form.columns.map((_, i) => {
    const f = columnForm(i, form.columns[i], {
      count: form.columns.length,
      draftModels: modelsState()
        .models.filter((x) => x.load && x.id !== activeSummary()?.id)
        .map((x) => ({ id: x.id, name: x.name })),
      changed: (rebuild) => {
        save();
        if (rebuild) rebuildColumns();
        else refresh();
      },
      replace: (g) => {
        form.columns[i] = g;
        save();
        rebuildColumns();
      },
      remove: () => {
        form.columns.splice(i, 1);
        if (run && !run.running) run.columns.splice(i, 1);
        save();
        rebuildColumns();
      },
    });
    const out = el('div', { class: 'lab-out', id: `lab-out-${i}` });
    els!.cols.append(el('div', { class: 'lab-col', id: `lab-col-${i}` }, f, out));
    return { form: f, out };
  });
  refresh();
}

let outputsQueued = false;
function scheduleOutputs(now = false): void {
  if (now) {
    refresh();
    return;
  }
  if (outputsQueued) return;
  outputsQueued = true;
  requestAnimationFrame(() => {
    outputsQueued = false;
    refresh();
  });
}

function columnOutput(i: number): HTMLElement[] {
  const c = run?.columns[i];
  if (!run || !c) return [el('p', { class: 'muted' }, 'Not run yet: press Run.')];
  const out: HTMLElement[] = [];
  const steps = c.steps.filter(Boolean);
  const maxH = Math.max(1e-9, ...run.columns.flatMap((x) => x.steps.filter(Boolean).map((s) => s.inspection?.stages[0].entropy ?? 0)));
  let status = c.running
    ? 'running…'
    : c.error
      ? 'error'
      : `${steps.length} tokens${c.stopReason ? ` · ${c.stopReason}` : ''}${c.ms !== undefined ? ` · ${Math.round(c.ms)} ms` : ''}`;
  const passes = steps.filter((s) => s.drafted);
  const drafted = passes.reduce((n, s) => n + s.drafted!.tokens.length, 0);
  const accepted = passes.reduce((n, s) => n + s.drafted!.accepted, 0);
  if (passes.length)
    status += ` · ${passes.length} target passes · drafted ${drafted}, accepted ${accepted}, rejected ${drafted - accepted} (acceptance ${drafted ? ((100 * accepted) / drafted).toFixed(0) : 0}%)`;
  const st = el(
    'p',
    { class: 'muted lab-status', id: `lab-status-${i}`, 'data-state': c.running ? 'running' : c.error ? 'error' : 'done', 'data-tokens': String(steps.length) },
    status,
  );
  if (passes.length) Object.assign(st.dataset, { passes: String(passes.length), drafted: String(drafted), accepted: String(accepted) });
  out.push(st);
  if (c.error) out.push(el('div', { class: 'error', id: `lab-col-error-${i}` }, c.error));
  out.push(
    textView({ ...c, steps }, i, selected, maxH, run.pieces, (s) => {
      selected = s;
      save();
      refresh();
    }),
  );
  const s = c.steps[selected];
  if (s?.inspection) {
    const canBranch = run.running
      ? 'Wait for the run to end to branch.'
      : form.columns.length >= MAX_LAB_COLUMNS
        ? `At most ${MAX_LAB_COLUMNS} columns: remove one to branch.`
        : undefined;
    out.push(inspectionView(s.inspection, i, selected, run.pieces, (_stage, id) => branch(i, selected, id), canBranch));
  } else if (s) {
    out.push(el('p', { class: 'muted' }, `Step ${selected + 1}: its debugger view comes when the column ends.`));
  } else if (steps.length) {
    out.push(el('p', { class: 'muted' }, `No step ${selected + 1} in this column.`));
  }
  if (c.beam) {
    const list = el('ol', { class: 'lab-seqs', id: `lab-seqs-${i}` });
    c.beam.texts.forEach((t, k) => list.append(el('li', { class: 'lab-seq', 'data-score': c.beam!.scores[k].toFixed(6) }, `${c.beam!.scores[k].toFixed(4)}  ${t}`)));
    out.push(el('p', {}, el('b', {}, 'Returned beams'), el('span', { class: 'muted' }, ' (score: sum of log-probabilities / length^length_penalty)')), list);
    out.push(beamTreeView(c.beam.tree, c.beam.sequences[0] ?? [], run.pieces, i));
  }
  return out;
}

function refresh(): void {
  if (!els) return;
  const m = activeSummary();
  els.empty.hidden = !!m;
  els.body.hidden = !m;
  if (run && m && run.modelId !== m.id) {
    if (run.running) stop();
    run = undefined;
    save(true);
  }
  const blocked = blockedReason();
  setDisabled(els.go, !!blocked);
  els.go.title = blocked && blocked.code !== 'running' ? blocked.text : 'Run every column (Ctrl+Enter / Cmd+Enter)';
  els.why.textContent = blocked && blocked.code !== 'running' ? blocked.text : '';
  if (blocked) els.why.dataset.reason = blocked.code;
  else delete els.why.dataset.reason;
  setDisabled(els.halt, !run?.running);
  setDisabled(els.add, form.columns.length >= MAX_LAB_COLUMNS);
  els.add.title = form.columns.length >= MAX_LAB_COLUMNS ? `At most ${MAX_LAB_COLUMNS} columns` : 'Add a column';
  els.addWhy.textContent = form.columns.length >= MAX_LAB_COLUMNS ? `At most ${MAX_LAB_COLUMNS} columns: remove one (its ✕) to add or branch.` : '';
  const noRun = !run || run.running || run.columns.every((c) => c.steps.length === 0);
  setDisabled(els.exportJson, noRun);
  setDisabled(els.exportCsv, noRun);
  els.note.textContent =
    noRun && !exportNote
      ? run?.running
        ? 'Export when the run ends.'
        : 'Run first to export.'
      : exportNote || (run?.trimmed ? 'This run was kept without its step views (too large to keep); Run again to inspect it.' : '');
  els.error.hidden = !run?.error;
  els.error.textContent = run?.error ?? '';
  const longest = Math.max(0, ...(run?.columns.map((c) => c.steps.length) ?? [0]));
  selected = Math.max(0, Math.min(selected, longest - 1));
  els.scrub.max = String(Math.max(0, longest - 1));
  els.scrub.value = String(selected);
  setDisabled(els.scrub, longest === 0);
  els.scrubLabel.textContent = longest ? `${selected + 1} of ${longest} (←/→ move)` : 'Run first: then pick a step here, or click a token.';
  els.scrubLabel.dataset.step = String(selected);
  colEls.forEach((c, i) => c.out.replaceChildren(...columnOutput(i)));
}

export const labPanel: Panel = {
  id: 'lab',
  title: 'Decoding',
  init(rerender) {
    initModels();
    onModelsState(() => {
      if (!root) rerender();
      else refresh();
    });
  },
  render(): HTMLElement {
    root ??= build();
    refresh();
    return root;
  },
};
