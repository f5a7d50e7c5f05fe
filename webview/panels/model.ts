/**
 * The Model panel: the active model's details (architecture, parameters, dtypes,
 * sizes, tokenizer, KV cache) and the memory the engine needs at a chosen context
 * length against the adapter's limits; loading progress with Cancel; the models
 * the host knows, each with "Use".
 */
import { isRunnableFormat } from '../../engine/formats/ids';
import { fmtCount, modelDetailRows } from '../../engine/catalog/describe';
import { memoryPlan } from '../../engine/catalog/inspect';
import type { ModelRef, ModelSummary } from '../../engine/protocol/index';
import { SOFTWARE_SLOWDOWN, softwareWarning } from '../../engine/protocol/backend';
import { button, el, fieldError, fmtBytes, kvTable, setFieldError } from '../dom';
import { engineState, onEngineState } from '../engine';
import { getState, onHostMessage, setState } from '../host';
import {
  activeSummary,
  cancelLoad,
  currentBackend,
  chosenContext,
  chosenDevice,
  chosenWeights,
  initModels,
  loadActive,
  modelsState,
  onModelsState,
  setChosenContext,
  setChosenDevice,
  setChosenWeights,
  showModelsView,
  useModel,
} from '../models';
import type { Panel } from './panel';
import { checkInt } from '../validate';

let bundled: ModelRef | undefined = getState<ModelRef>('bundledModel');
/** The context-length field's text while it is not a valid number, and why (kept across re-renders). */
let ctxDraft: { modelId: string; text: string; message: string } | undefined;

/** The rows of a model's details (also used for tests: ids are stable). */
export function detailRows(m: ModelSummary): [string, string][] {
  return [['Path', m.path], ...(m.info ? modelDetailRows(m.info) : [])];
}

function memorySection(m: ModelSummary): HTMLElement {
  const i = m.info!;
  const ctx = chosenContext(m);
  const env = engineState().env;
  const limits = env?.backend === 'webgpu' ? env.limits : undefined;
  const plan = memoryPlan(i, ctx, limits);
  const box = el('div', { id: 'model-memory' });
  const input = el('input', { id: 'model-ctx', type: 'number', min: '16', max: String(i.contextLength), step: '16', 'aria-label': 'Context length in tokens' }) as HTMLInputElement;
  const range = { label: 'Context length', min: Math.min(16, i.contextLength), max: i.contextLength };
  const err = fieldError('model-ctx-error');
  const draft = ctxDraft?.modelId === m.id ? ctxDraft : undefined;
  input.value = draft?.text ?? String(ctx);
  setFieldError(input, err, draft?.message);
  // A value out of range shows why beside the field and is not used (the memory plan and
  // the next load keep the last valid one).
  const check = (commit: boolean) => {
    const c = checkInt(input.value, range);
    if (!c.ok) {
      ctxDraft = { modelId: m.id, text: input.value, message: c.message };
      setFieldError(input, err, c.message);
      return;
    }
    ctxDraft = undefined;
    setFieldError(input, err, undefined);
    if (commit && c.value !== ctx) setChosenContext(c.value);
  };
  input.addEventListener('input', () => check(false));
  input.addEventListener('change', () => check(true));
  const device = el('select', { id: 'model-device', 'aria-label': 'Run on' }) as HTMLSelectElement;
  const decision = currentBackend();
  const software = !!decision?.software;
  const noGpu = env?.backend !== 'webgpu';
  const gpuNote = noGpu ? ' — no adapter' : software ? ` — software adapter, ${SOFTWARE_SLOWDOWN} slower` : '';
  const gpuAttrs: Record<string, string> = noGpu ? { disabled: '' } : {};
  device.append(
    el('option', { value: 'cpu' }, 'CPU (f32)'),
    el('option', { value: 'gpu', ...gpuAttrs }, `WebGPU (f32)${gpuNote}`),
    el('option', { value: 'gpu-f16', ...gpuAttrs }, `WebGPU (f16 weights)${gpuNote}`),
  );
  device.value = chosenDevice() === 'gpu' && chosenWeights() === 'f16' ? 'gpu-f16' : chosenDevice();
  device.addEventListener('change', () => {
    if (device.value !== 'cpu') setChosenWeights(device.value === 'gpu-f16' ? 'f16' : 'f32');
    setChosenDevice(device.value === 'cpu' ? 'cpu' : 'gpu');
  });
  box.append(
    el('h3', {}, 'Memory'),
    el(
      'div',
      { class: 'row' },
      el('label', { for: 'model-ctx', class: 'field' }, 'Context length ', input),
      err,
      el('label', { for: 'model-device', class: 'field' }, 'Run on ', device),
    ),
  );
  // Before WebGPU is chosen on a software adapter (SwiftShader…), say what it costs; after, say it again as an alert.
  if (software && decision?.adapter) {
    const onGpu = chosenDevice() === 'gpu';
    box.append(
      el(
        'p',
        { id: 'model-device-warning', class: 'warning', role: onGpu ? 'alert' : 'note', 'data-chosen': onGpu ? 'gpu' : 'cpu' },
        `⚠ ${softwareWarning(decision.adapter)}${onGpu ? ' Choose CPU (f32) to run faster.' : ' The CPU path is used unless you choose WebGPU here.'}`,
      ),
    );
  }
  if (decision) box.append(el('p', { class: 'muted', id: 'model-backend', 'data-backend': decision.backend }, `Runs on: ${decision.label}. ${decision.reason}`));
  const rows: [string, string][] = [
    ['Weights (f32)', fmtBytes(plan.weightBytes)],
    [`KV cache (${ctx} tokens)`, fmtBytes(plan.kvCacheBytes)],
    ['Activations (about)', fmtBytes(plan.scratchBytes)],
    ['Total', fmtBytes(plan.totalBytes)],
    ['Largest buffer', fmtBytes(plan.largestBufferBytes)],
  ];
  if (limits) {
    rows.push(['Adapter maxBufferSize', fmtBytes(limits.maxBufferSize)], ['Adapter maxStorageBufferBindingSize', fmtBytes(limits.maxStorageBufferBindingSize)]);
    rows.push(['Fits the adapter', plan.problems.length ? `no: ${plan.problems.join('; ')}` : 'yes']);
  } else {
    rows.push(['Adapter limits', env ? 'no WebGPU adapter (CPU path)' : 'not probed yet (Engine tab)']);
  }
  box.append(kvTable(rows, 'model-memory-table'));
  const loaded = modelsState().load;
  if (
    loaded.phase === 'ready' &&
    loaded.modelId === m.id &&
    (loaded.summary?.contextLength !== ctx ||
      (loaded.summary?.device ?? 'cpu') !== chosenDevice() ||
      (chosenDevice() === 'gpu' && (loaded.summary?.weights ?? 'f32') !== chosenWeights()))
  ) {
    box.append(button('Reload with these settings', 'refresh', () => loadActive(true)));
  }
  return box;
}

function loadSection(m: ModelSummary): HTMLElement {
  const s = modelsState().load;
  const box = el('div', { id: 'model-load' });
  if (!m.load) {
    box.append(el('p', { class: 'error', id: 'model-load-status', 'data-phase': 'unusable' }, m.problem?.message ?? 'This model cannot be used.'));
    return box;
  }
  if (s.modelId !== m.id || s.phase === 'idle') {
    box.append(
      el('p', { class: 'muted', id: 'model-load-status', 'data-phase': 'idle' }, 'Not loaded yet.'),
      button('Load', 'play', () => loadActive(true)),
    );
  } else if (s.phase === 'loading') {
    const pct = s.total ? Math.round((100 * s.bytes) / s.total) : 0;
    box.append(
      el(
        'p',
        { id: 'model-load-status', 'data-phase': 'loading' },
        el('vscode-progress-ring', { 'aria-label': 'loading' }),
        ` Loading: ${s.step ?? ''} — ${fmtBytes(s.bytes)} of ${fmtBytes(s.total)} (${pct}%)`,
      ),
      el('progress', { max: '100', value: String(pct), 'aria-label': 'Loading progress' }),
      button('Cancel', 'close', cancelLoad),
    );
  } else if (s.phase === 'ready') {
    const sum = s.summary!;
    box.append(
      el(
        'p',
        { id: 'model-load-status', 'data-phase': 'ready' },
        `Loaded on the ${sum.device === 'gpu' ? 'GPU' : 'CPU'} in ${sum.seconds.toFixed(2)} s: ${fmtCount(sum.parameters)} parameters, context ${sum.contextLength}.`,
      ),
    );
    if (sum.note) box.append(el('p', { class: 'muted' }, sum.note));
  } else {
    box.append(
      el('div', { class: 'error', role: 'alert', id: 'model-load-status', 'data-phase': 'error' }, s.message ?? 'Loading failed.'),
      button('Retry', 'refresh', () => loadActive(true)),
    );
  }
  return box;
}

function listSection(): HTMLElement {
  const st = modelsState();
  const box = el('div', { id: 'model-list' }, el('h3', {}, 'Models'));
  if (!st.models.length) {
    box.append(el('p', { class: 'muted' }, 'The model list has not arrived from the extension yet.'));
    return box;
  }
  const ul = el('ul', { class: 'models' });
  for (const m of st.models) {
    const li = el('li', { 'data-model-id': m.id, 'data-status': m.status });
    const status = m.status === 'ready' ? '' : m.status === 'checking' ? ' — checking…' : ` — ${m.problem?.message ?? m.status}`;
    li.append(el('span', { class: m.status === 'error' ? 'error-text' : '' }, `${m.name}${m.id === st.activeId ? ' (active)' : ''}${status}`));
    if (m.load && m.id !== st.activeId) li.append(button('Use', 'play', () => void useModel(m.id)));
    ul.append(li);
  }
  box.append(
    ul,
    button('Open the Models view', 'list-tree', () => showModelsView()),
  );
  return box;
}

export const modelPanel: Panel = {
  id: 'model',
  title: 'Model',
  init(rerender) {
    initModels();
    onHostMessage((msg) => {
      if (msg.type === 'init') {
        bundled = msg.bundledModel;
        setState('bundledModel', bundled);
        rerender();
      }
    });
    onModelsState(() => rerender());
    onEngineState(() => rerender());
  },
  render(): HTMLElement {
    const box = el('section', { id: 'model', 'aria-labelledby': 'model-h' });
    box.append(el('h2', { id: 'model-h' }, 'Model'));
    const m = activeSummary();
    if (!m) {
      box.append(el('p', { class: 'muted', id: 'model-empty' }, 'No model is active. Use one from the list below or from the Models view.'));
      if (bundled) box.append(el('p', {}, 'Bundled default: ', el('strong', {}, bundled.name), ` (${bundled.format}; Karpathy's TinyStories 260K-parameter Llama, MIT).`));
    } else {
      box.append(el('p', { id: 'model-active' }, 'Active: ', el('strong', {}, m.name)));
      if (m.problem) box.append(el('p', { class: m.status === 'error' ? 'error' : 'muted' }, m.problem.message));
      box.append(loadSection(m), kvTable(detailRows(m), 'model-details'));
      if (m.info && isRunnableFormat(m.info.format)) box.append(memorySection(m));
    }
    box.append(listSection());
    return box;
  },
};
