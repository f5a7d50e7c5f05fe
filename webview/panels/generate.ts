/**
 * The Generate panel: a prompt, greedy decoding with the active model in the
 * worker, streamed output (the tokenizer's stream decoder) with tokens/s, stop
 * strings, Stop, and Ctrl/Cmd+Enter to run. The last run (text bounded by
 * MAX_SAVED_TEXT) is kept in the webview state, so it comes back when the webview
 * does; it is cleared when another model becomes active. A disabled Generate button
 * always has its reason beside it.
 */
import type { GenerateStopReason, ReplyOf } from '../../engine/protocol/index';
import { button, el, fieldError, setDisabled, setFieldError } from '../dom';
import { askWorker, postToWorker } from '../engine';
import { getState, setState } from '../host';
import { activeSummary, currentBackend, initModels, modelsState, onModelsState, showModelsView, useModel } from '../models';
import type { Panel } from './panel';
import { checkInt } from '../validate';

interface GenForm {
  prompt: string;
  maxTokens: number;
  stop: string;
}

/** The max-new-tokens field's range (the worker's own limit is the same). */
export const MAX_TOKENS_RANGE = { label: 'Max new tokens', min: 1, max: 4096 };
/** The most characters of generated text kept in the webview state (the screen shows all of it). */
export const MAX_SAVED_TEXT = 32_000;

const form: GenForm = { prompt: 'Once upon a time', maxTokens: 128, stop: '', ...(getState<GenForm>('generate') ?? {}) };

interface Run {
  id: number;
  running: boolean;
  text: string;
  tokens: number;
  tps: number;
  reason?: GenerateStopReason;
  error?: string;
  prompt: string;
  /** The model that generated it. */
  modelId: string;
  /** The text was cut to MAX_SAVED_TEXT characters when it was kept. */
  cut?: boolean;
  /** The run was going when the webview went away; it ended there. */
  interrupted?: boolean;
  /** A long prompt being read in chunks: ids in the cache so far, of the prompt's. */
  prefill?: { done: number; total: number };
}

/** The last run as the state kept it: a run that was going then ended with the webview. */
function restoredRun(): Run | undefined {
  const r = getState<Run>('generateRun');
  if (!r || typeof r.text !== 'string' || typeof r.modelId !== 'string') return undefined;
  return r.running ? { ...r, running: false, interrupted: true } : r;
}

let run: Run | undefined = restoredRun();
/** The max-new-tokens field's text when it is not a valid number (its message shows). */
let maxError: string | undefined;
let saveTimer: number | undefined;

/** Keeps the run in the webview state (during a run at most twice a second). */
function saveRun(now = false): void {
  if (saveTimer !== undefined) window.clearTimeout(saveTimer);
  saveTimer = undefined;
  const write = () => {
    saveTimer = undefined;
    if (!run) return setState('generateRun', undefined);
    const cut = run.text.length > MAX_SAVED_TEXT;
    setState('generateRun', { ...run, text: cut ? run.text.slice(0, MAX_SAVED_TEXT) : run.text, cut: run.cut || cut });
  };
  if (now) write();
  else saveTimer = window.setTimeout(write, 500);
}

let root: HTMLElement | undefined;
let els:
  | {
      empty: HTMLElement;
      body: HTMLElement;
      modelLine: HTMLElement;
      prompt: HTMLTextAreaElement;
      max: HTMLInputElement;
      stop: HTMLTextAreaElement;
      go: HTMLElement;
      halt: HTMLElement;
      outPrompt: HTMLElement;
      outText: HTMLElement;
      stats: HTMLElement;
      error: HTMLElement;
      why: HTMLElement;
      maxError: HTMLElement;
      note: HTMLElement;
    }
  | undefined;

const REASONS: Record<GenerateStopReason, string> = {
  stop: 'the model ended the text',
  length: 'max tokens reached',
  context: 'the context is full',
  stopString: 'a stop string appeared',
  cancelled: 'stopped',
};

function saveForm(): void {
  setState('generate', form);
}

/** Stop strings: one per line; \n and \t stand for a newline and a tab. */
export function parseStops(s: string): string[] {
  return s
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.replace(/\\n/g, '\n').replace(/\\t/g, '\t'));
}

/** Why Generate cannot run now (undefined: it can), with a stable code for tests. */
export function blockedReason(): { code: string; text: string } | undefined {
  const m = activeSummary();
  const load = modelsState().load;
  if (!m) return { code: 'no-model', text: 'No model is active.' };
  if (run?.running) return { code: 'running', text: 'Generating… (Stop or Escape ends it)' };
  if (!m.load) return { code: 'unusable', text: `${m.name} cannot generate: ${m.problem?.message ?? 'it cannot be used'}.` };
  if (load.modelId !== m.id || load.phase === 'idle') return { code: 'not-loaded', text: `${m.name} is not loaded yet.` };
  if (load.phase === 'loading') return { code: 'loading', text: `${m.name} is loading (see the Model tab).` };
  if (load.phase === 'error') return { code: 'load-failed', text: `${m.name} could not be loaded: ${load.message ?? 'see the Model tab'}.` };
  if (!load.summary?.tokenizerKind) {
    return {
      code: 'no-tokenizer',
      text: `${m.name} has no tokenizer, so a prompt cannot be turned into tokens${m.problem ? ` (${m.problem.message})` : ''}. Put its tokenizer.json beside the weights, or use a model with a tokenizer, such as the bundled stories260K.`,
    };
  }
  if (maxError) return { code: 'invalid', text: 'Correct Max new tokens first.' };
  return undefined;
}

function start(): void {
  const m = activeSummary();
  if (!m || blockedReason()) {
    refresh();
    return;
  }
  run = { id: 0, running: true, text: '', tokens: 0, tps: 0, prompt: form.prompt, modelId: m.id };
  const id = askWorker({ type: 'generate', prompt: form.prompt, maxTokens: form.maxTokens, stop: parseStops(form.stop) }, onReply);
  if (id === undefined) run = { ...run, running: false, error: 'The engine worker is not running.' };
  else run.id = id;
  saveRun(true);
  refresh();
}

function stop(): void {
  if (run?.running) postToWorker({ type: 'stopGenerate', id: run.id });
}

function onReply(msg: ReplyOf<'generate'>): void {
  if (!run || msg.id !== run.id) return;
  if (msg.type === 'genProgress') {
    run.prefill = { done: msg.done, total: msg.total };
    refreshStats();
  } else if (msg.type === 'genText') {
    run.prefill = undefined;
    run.text += msg.text;
    run.tokens = msg.tokens;
    run.tps = msg.tokensPerSec;
    if (els) els.outText.append(msg.text);
    refreshStats();
    saveRun();
  } else if (msg.type === 'genDone') {
    run = { ...run, running: false, text: msg.text, tokens: msg.tokens, tps: msg.tokensPerSec, reason: msg.stopReason };
    saveRun(true);
    refresh();
  } else if (msg.type === 'genError') {
    run = { ...run, running: false, error: msg.message };
    saveRun(true);
    refresh();
  }
}

function refreshStats(): void {
  if (!els) return;
  if (!run) {
    els.stats.textContent = '';
    for (const k of Object.keys(els.stats.dataset)) delete els.stats.dataset[k];
    return;
  }
  const parts = [`${run.tokens} token${run.tokens === 1 ? '' : 's'}`];
  if (run.tps > 0) parts.push(`${run.tps.toFixed(1)} tokens/s`);
  if (run.running && run.prefill) parts.push(`reading the prompt: ${run.prefill.done.toLocaleString('en')} of ${run.prefill.total.toLocaleString('en')} tokens`);
  else if (run.running) parts.push('generating…');
  else if (run.reason) parts.push(REASONS[run.reason]);
  else if (run.interrupted) parts.push('ended when the playground was closed or reloaded');
  els.stats.textContent = parts.join(' · ');
  // The same values for tests and tools: stable attributes beside the text.
  const d = els.stats.dataset;
  d.run = String(run.id);
  d.state = run.running ? 'running' : run.error ? 'error' : 'done';
  d.tokens = String(run.tokens);
  d.tokensPerSec = run.tps.toFixed(1);
  if (run.running && run.prefill) {
    d.prefillDone = String(run.prefill.done);
    d.prefillTotal = String(run.prefill.total);
  } else {
    delete d.prefillDone;
    delete d.prefillTotal;
  }
  if (run.reason && !run.running) d.stopReason = run.reason;
  else delete d.stopReason;
}

function build(): HTMLElement {
  const box = el('section', { id: 'generate', 'aria-labelledby': 'generate-h' });
  box.append(el('h2', { id: 'generate-h' }, 'Generate'));
  const empty = el(
    'div',
    { id: 'generate-empty', class: 'empty' },
    el('p', {}, 'No model is active. Generate runs the active model; choose one to start.'),
    button('Use the bundled stories260K', 'play', () => void useModel('bundled:stories260K'), false),
    button('Open the Models view', 'list-tree', () => showModelsView()),
  );
  const modelLine = el('p', { id: 'generate-model', class: 'muted' });
  const prompt = el('textarea', { id: 'gen-prompt', rows: '4', 'aria-label': 'Prompt', placeholder: 'Type a prompt; Ctrl+Enter (Cmd+Enter) generates' }) as HTMLTextAreaElement;
  prompt.value = form.prompt;
  prompt.addEventListener('input', () => {
    form.prompt = prompt.value;
    saveForm();
  });
  const max = el('input', {
    id: 'gen-max',
    type: 'number',
    min: String(MAX_TOKENS_RANGE.min),
    max: String(MAX_TOKENS_RANGE.max),
    step: '1',
    'aria-label': 'Max new tokens',
  }) as HTMLInputElement;
  max.value = String(form.maxTokens);
  const first = checkInt(max.value, MAX_TOKENS_RANGE);
  maxError = first.ok ? undefined : first.message;
  const maxErr = fieldError('gen-max-error');
  const checkMax = () => {
    const c = checkInt(max.value, MAX_TOKENS_RANGE);
    maxError = c.ok ? undefined : c.message;
    if (c.ok) {
      form.maxTokens = c.value;
      saveForm();
    }
    refresh();
  };
  max.addEventListener('input', checkMax);
  max.addEventListener('change', checkMax);
  const stopBox = el('textarea', {
    id: 'gen-stop',
    rows: '2',
    'aria-label': 'Stop strings, one per line',
    placeholder: 'Stop strings, one per line (\\n = newline)',
  }) as HTMLTextAreaElement;
  stopBox.value = form.stop;
  stopBox.addEventListener('input', () => {
    form.stop = stopBox.value;
    saveForm();
  });
  const go = button('Generate', 'play', start, false);
  go.id = 'gen-run';
  go.title = 'Generate (Ctrl+Enter / Cmd+Enter)';
  const halt = button('Stop', 'debug-stop', stop);
  halt.id = 'gen-stop-button';
  const outPrompt = el('span', { class: 'gen-prompt-echo' });
  const outText = el('span', { id: 'gen-text' });
  const output = el('pre', { id: 'gen-output', 'aria-live': 'polite', 'aria-label': 'Generated text', tabindex: '0' }, outPrompt, outText);
  const stats = el('p', { id: 'gen-stats', class: 'muted' });
  const note = el('p', { id: 'gen-note', class: 'muted' });
  const error = el('div', { id: 'gen-error', class: 'error', role: 'alert' });
  const why = el('span', { id: 'gen-why', class: 'why', 'aria-live': 'polite' });
  const body = el(
    'div',
    { id: 'generate-body' },
    modelLine,
    el('label', { for: 'gen-prompt', class: 'field' }, 'Prompt'),
    prompt,
    el(
      'div',
      { class: 'row' },
      el('label', { for: 'gen-max', class: 'field' }, 'Max new tokens ', max),
      maxErr,
      el('span', { class: 'muted', id: 'gen-decoding' }, 'Decoding: greedy (the most likely token each step)'),
    ),
    el('label', { for: 'gen-stop', class: 'field' }, 'Stop strings'),
    stopBox,
    el('div', { class: 'row' }, go, halt, why),
    error,
    output,
    stats,
    note,
  );
  box.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      start();
    } else if (ev.key === 'Escape' && run?.running) {
      stop();
    }
  });
  box.append(empty, body);
  els = { empty, body, modelLine, prompt, max, stop: stopBox, go, halt, outPrompt, outText, stats, error, why, maxError: maxErr, note };
  return box;
}

/** The backend the loaded model runs on, as the Engine tab and the status bar name it. */
function backendLabel(weights: string | undefined): string {
  const d = currentBackend();
  if (!d) return 'CPU';
  return d.backend === 'webgpu' && weights === 'f16' ? `${d.label}, f16 weights` : d.label;
}

function refresh(): void {
  if (!els) return;
  const m = activeSummary();
  const load = modelsState().load;
  els.empty.hidden = !!m;
  els.body.hidden = !m;
  if (!m) return;
  // Another model's output would read as this one's: a new active model starts clean.
  if (run && run.modelId !== m.id) {
    if (run.running) postToWorker({ type: 'stopGenerate', id: run.id });
    run = undefined;
    saveRun(true);
  }
  const ready = load.phase === 'ready' && load.modelId === m.id;
  let line: string;
  if (!m.load) line = `${m.name}: ${m.problem?.message ?? 'cannot be used'}`;
  else if (ready)
    line = `${m.name} — ${backendLabel(load.summary?.weights)}, context ${load.summary?.contextLength}${load.summary?.tokenizerKind ? `, ${load.summary.tokenizerKind} tokenizer` : ', no tokenizer'}`;
  else if (load.phase === 'loading') line = `${m.name} — loading (${load.total ? Math.round((100 * load.bytes) / load.total) : 0}%)… see the Model tab`;
  else if (load.phase === 'error') line = `${m.name} — could not be loaded: ${load.message ?? ''}`;
  else line = `${m.name} — not loaded yet`;
  els.modelLine.textContent = line;
  // which backend runs and why: the same answer as the Engine tab and the status bar
  const backend = currentBackend();
  els.modelLine.dataset.backend = ready ? (backend?.backend ?? '') : '';
  els.modelLine.title = ready && backend ? backend.reason : '';
  els.modelLine.dataset.ready = String(ready);
  const running = !!run?.running;
  const blocked = blockedReason();
  setDisabled(els.go, !!blocked);
  setDisabled(els.halt, !running);
  els.why.textContent = blocked && blocked.code !== 'running' ? blocked.text : '';
  if (blocked) els.why.dataset.reason = blocked.code;
  else delete els.why.dataset.reason;
  els.go.title = blocked && blocked.code !== 'running' ? blocked.text : 'Generate (Ctrl+Enter / Cmd+Enter)';
  setFieldError(els.max, els.maxError, maxError);
  els.note.textContent = run?.cut ? `Only the first ${MAX_SAVED_TEXT.toLocaleString('en-US')} characters of this text were kept when the playground was reloaded.` : '';
  els.note.hidden = !run?.cut;
  els.error.hidden = !run?.error;
  els.error.textContent = run?.error ?? '';
  if (run) {
    els.outPrompt.textContent = run.prompt;
    els.outText.textContent = run.text;
  } else {
    els.outPrompt.textContent = '';
    els.outText.textContent = '';
  }
  els.outPrompt.parentElement!.hidden = !run;
  refreshStats();
}

export const generatePanel: Panel = {
  id: 'generate',
  title: 'Generate',
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
