/**
 * The KV cache panel. Live: a greedy generation of the active model profiled by the worker
 * (engine/worker/kv.ts), the cache filling token by token (bytes per layer, per token and in
 * total, read from the arrays or buffers the backend allocated), prefill and per-step decode
 * time on one plot, and the allocations of each decode step. With and without the cache: the
 * same steps timed both ways against position. The int8 cache's cost in accuracy on a text
 * (kv-quant.ts). What-ifs: the formula of engine/model/kv/ for
 * the active model, a built-in config or a pasted config.json. State survives hide/show.
 */
import type { KvCompareRow, KvProfileHeader, KvStepView, ReplyOf } from '../../engine/protocol/index';
import { BUILTIN_NAMES, builtinSpec } from '../../engine/model/kv/builtins';
import { specFromHfConfig, type KvSpec } from '../../engine/model/kv/spec';
import { GPUS, kvWhatIf, type AttentionKind, type KvDtype, type WhatIfResult } from '../../engine/model/kv/whatif';
import { button, el, fmtBytes, kvTable, setDisabled } from '../dom';
import { askWorker } from '../engine';
import { getState, setState } from '../host';
import { activeSummary, modelsState, onModelsState } from '../models';
import type { Panel } from './panel';
import { quantRunning, quantSection, refreshQuant } from './kv-quant';

interface WhatIfForm {
  source: string; // 'active' | 'pasted' | a built-in name
  pasted: string;
  context: string;
  batch: string;
  dtype: KvDtype;
  attention: AttentionKind;
  window: string;
  block: string;
  gpu: string; // GiB
}

interface Profile {
  running: boolean;
  header?: KvProfileHeader;
  steps: KvStepView[];
  text?: string;
  error?: string;
}

interface Saved {
  form: WhatIfForm;
  prompt: string;
  maxTokens: number;
  profile?: Profile;
  compare?: KvCompareRow[];
}

const saved = getState<Saved>('kv');
const form: WhatIfForm = {
  source: 'Llama-3.1-8B',
  pasted: '',
  context: '131072',
  batch: '1',
  dtype: 'f16',
  attention: 'config',
  window: '',
  block: '0',
  gpu: '80',
  ...(saved?.form ?? {}),
};
let prompt = saved?.prompt ?? 'Once upon a time';
let maxTokens = saved?.maxTokens ?? 64;
let profile: Profile | undefined = saved?.profile ? { ...saved.profile, running: false } : undefined;
let compare: KvCompareRow[] | undefined = saved?.compare;
let comparing = false;
let compareError: string | undefined;

function save(): void {
  setState('kv', { form, prompt, maxTokens, profile, compare } satisfies Saved);
}

const num = (s: string) => (s.trim() === '' ? undefined : Number(s));

/** The spec the what-if form names, or the error that explains why there is none. */
function chosenSpec(): KvSpec | string {
  if (form.source === 'active') {
    const m = activeSummary();
    const c = m?.info;
    if (!m || !c) return 'No active model with details: choose one in the Models view, or pick a built-in config.';
    return {
      name: m.name,
      numLayers: c.numLayers,
      hiddenSize: c.hiddenSize,
      numHeads: c.numHeads,
      numKvHeads: c.numKvHeads,
      headDim: c.headDim,
      intermediateSize: 4 * c.hiddenSize, // not in the header summary; unused: the parameter count is known
      vocabSize: c.vocabSize,
      maxPositions: c.contextLength,
      tieEmbeddings: false,
      params: c.parameters,
    };
  }
  if (form.source === 'pasted') {
    if (!form.pasted.trim()) return 'Paste a Hugging Face config.json above.';
    try {
      return specFromHfConfig(JSON.parse(form.pasted), 'pasted config.json');
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }
  return builtinSpec(form.source) ?? `Unknown built-in ${form.source}`;
}

function whatIf(): WhatIfResult | string {
  const spec = chosenSpec();
  if (typeof spec === 'string') return spec;
  const gpu = num(form.gpu);
  try {
    return kvWhatIf(spec, {
      context: num(form.context) ?? spec.maxPositions,
      batch: num(form.batch),
      kvDtype: form.dtype,
      attention: form.attention,
      window: num(form.window),
      blockSize: num(form.block),
      gpuMemoryBytes: gpu === undefined ? undefined : gpu * 2 ** 30,
    });
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag: string, attrs: Record<string, string>): SVGElement {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

/** A line chart of series over a shared x, in theme colours; y from 0 to the largest value. */
function chart(id: string, label: string, xs: number[], series: { name: string; ys: number[]; color: string }[], xLabel: string, yLabel: string): HTMLElement {
  const W = 520;
  const H = 180;
  const P = 36;
  const root = svg('svg', { id, viewBox: `0 0 ${W} ${H}`, width: '100%', role: 'img', 'aria-label': label, class: 'kv-chart' });
  const xMax = Math.max(1, ...xs);
  const yMax = Math.max(1e-9, ...series.flatMap((s) => s.ys));
  const X = (x: number) => P + ((W - 2 * P) * x) / xMax;
  const Y = (y: number) => H - P + (-(H - 2 * P) * y) / yMax;
  root.append(svg('line', { x1: String(P), y1: String(H - P), x2: String(W - P), y2: String(H - P), stroke: 'var(--vscode-widget-border, var(--vscode-foreground))' }));
  root.append(svg('line', { x1: String(P), y1: String(P), x2: String(P), y2: String(H - P), stroke: 'var(--vscode-widget-border, var(--vscode-foreground))' }));
  const t = (x: number, y: number, s: string, anchor = 'start') => {
    const e = svg('text', { x: String(x), y: String(y), fill: 'var(--vscode-descriptionForeground)', 'font-size': '10', 'text-anchor': anchor });
    e.textContent = s;
    return e;
  };
  root.append(t(W - P, H - 8, `${xLabel} (max ${xMax})`, 'end'), t(2, P - 10, `${yLabel} (max ${yMax.toPrecision(3)})`));
  series.forEach((s, i) => {
    const pts = xs.map((x, j) => `${X(x).toFixed(1)},${Y(s.ys[j]).toFixed(1)}`).join(' ');
    root.append(svg('polyline', { points: pts, fill: 'none', stroke: s.color, 'stroke-width': '1.5' }));
    for (let j = 0; j < xs.length && xs.length <= 64; j++) root.append(svg('circle', { cx: X(xs[j]).toFixed(1), cy: Y(s.ys[j]).toFixed(1), r: '2', fill: s.color }));
    const legend = t(P + 8 + i * 160, P + 2, `— ${s.name}`);
    legend.setAttribute('fill', s.color);
    root.append(legend);
  });
  const box = el('figure', { class: 'kv-figure' });
  box.append(root as unknown as Node, el('figcaption', { class: 'sr-only' }, label));
  return box;
}

const C1 = 'var(--vscode-charts-blue, var(--vscode-focusBorder))';
const C2 = 'var(--vscode-charts-orange, var(--vscode-editorWarning-foreground))';

function startProfile(): void {
  profile = { running: true, steps: [] };
  const id = askWorker({ type: 'kvProfile', prompt, maxTokens }, (m: ReplyOf<'kvProfile'>) => {
    if (!profile) return;
    if (m.type === 'kvHeader') profile.header = m.header;
    else if (m.type === 'kvStep') profile.steps.push(m.step);
    else if (m.type === 'kvDone') profile = { ...profile, running: false, text: m.text };
    else profile = { ...profile, running: false, error: m.message };
    if (!profile.running) save();
    schedule();
  });
  if (id === undefined) profile = { running: false, steps: [], error: 'The engine worker is not running.' };
  refresh();
}

function startCompare(): void {
  const cap = modelsState().load.summary?.contextLength ?? 512;
  const positions = [16, 32, 64, 128, 256, 512, 1024, 2048].filter((n) => n <= cap).map((n) => n - 1);
  comparing = true;
  compareError = undefined;
  const id = askWorker({ type: 'kvCompare', positions }, (m: ReplyOf<'kvCompare'>) => {
    comparing = false;
    if (m.type === 'kvCompareResult') compare = m.rows;
    else compareError = m.message;
    save();
    refresh();
  });
  if (id === undefined) {
    comparing = false;
    compareError = 'The engine worker is not running.';
  }
  refresh();
}

let pending = false;
/** Re-renders at most once per animation frame while steps stream in. */
function schedule(): void {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    refresh();
  });
}

let root: HTMLElement | undefined;
let live: HTMLElement;
let cmp: HTMLElement;
let out: HTMLElement;
let runBtn: HTMLElement;
let cmpBtn: HTMLElement;
let why: HTMLElement;

/** Why the live tools cannot run now, or undefined. */
function blocked(): string | undefined {
  const m = activeSummary();
  const load = modelsState().load;
  if (!m) return 'No model is active: choose one in the Models view.';
  if (load.phase !== 'ready' || load.modelId !== m.id)
    return load.phase === 'loading' ? 'The model is still loading.' : 'The active model is not loaded (open the Generate tab to load it).';
  if (!load.summary?.tokenizerKind) return 'This model has no tokenizer, so a prompt cannot be run.';
  if (profile?.running || comparing || quantRunning()) return 'A measurement is running.';
  return undefined;
}

function toggle(b: HTMLElement, disabled: boolean, reason?: string): void {
  setDisabled(b, disabled);
  b.title = reason ?? '';
}

function renderLive(): void {
  live.replaceChildren();
  if (!profile) {
    live.append(el('p', { class: 'muted', id: 'kv-live-empty' }, 'Run a profile to watch the cache fill token by token.'));
    return;
  }
  if (profile.error) live.append(el('div', { class: 'error', role: 'alert', id: 'kv-live-error' }, profile.error));
  const h = profile.header;
  const last = profile.steps.at(-1);
  if (!h) return;
  const used = last ? last.usedPerLayer.reduce((a, b) => a + b, 0) : 0;
  const allocated = h.allocatedPerLayer.reduce((a, b) => a + b, 0);
  const decode = profile.steps.filter((s) => s.phase === 'decode');
  const maxAlloc = decode.reduce((a, s) => Math.max(a, s.allocations), 0);
  const status = el(
    'p',
    {
      id: 'kv-live-status',
      'data-used': String(used),
      'data-allocated': String(allocated),
      'data-tokens': String(last?.tokens ?? 0),
      'data-allocations': String(maxAlloc),
      'aria-live': 'polite',
    },
    `${profile.running ? 'Generating… ' : ''}${last?.tokens ?? 0} of ${h.capacity} tokens cached: ${fmtBytes(used)} used of ${fmtBytes(allocated)} allocated (${h.bytesPerToken.toLocaleString('en')} bytes per token).`,
  );
  live.append(status);
  const rows: [string, string][] = [
    ['Backend', h.backend],
    ['Bytes per token (all layers, K and V, f32)', h.bytesPerToken.toLocaleString('en')],
    ['KV cache allocated', `${allocated.toLocaleString('en')} bytes (${fmtBytes(allocated)})`],
    ['KV cache used now', `${used.toLocaleString('en')} bytes`],
    ['Allocations per decode step', `${maxAlloc} (largest over ${decode.length} steps; the goal is zero)`],
  ];
  if (h.gpu)
    rows.push([
      'GPU buffers (the engine’s own accounts: WebGPU cannot report VRAM)',
      `weights ${fmtBytes(h.gpu.weights)}, KV cache ${fmtBytes(h.gpu.kvCache)}, scratch ${fmtBytes(h.gpu.scratch)} in ${h.gpu.buffers} buffers`,
    ]);
  const prefill = profile.steps.find((s) => s.phase === 'prefill');
  if (prefill) rows.push(['Prefill', `${prefill.tokens} tokens in ${prefill.ms.toFixed(2)} ms`]);
  if (decode.length) rows.push(['Decode step (median)', `${[...decode.map((s) => s.ms)].sort((a, b) => a - b)[decode.length >> 1].toFixed(3)} ms`]);
  live.append(kvTable(rows, 'kv-live-table'));
  const perLayer = el(
    'p',
    { class: 'muted', id: 'kv-per-layer' },
    `Per layer (used / allocated): ${h.allocatedPerLayer.map((a, l) => `L${l} ${(last?.usedPerLayer[l] ?? 0).toLocaleString('en')} / ${a.toLocaleString('en')}`).join(' · ')}`,
  );
  live.append(perLayer);
  if (profile.steps.length > 1) {
    const xs = profile.steps.map((s) => s.step);
    live.append(
      chart(
        'kv-time-chart',
        'Time per step: step 0 is the prefill, then each decode step',
        xs,
        [{ name: 'ms per step (0 = prefill)', ys: profile.steps.map((s) => s.ms), color: C1 }],
        'step',
        'ms',
      ),
      chart(
        'kv-bytes-chart',
        'KV bytes used after each step',
        xs,
        [{ name: 'KV bytes used', ys: profile.steps.map((s) => s.usedPerLayer.reduce((a, b) => a + b, 0)), color: C2 }],
        'step',
        'bytes',
      ),
    );
  }
  if (profile.text !== undefined) live.append(el('p', { class: 'muted', id: 'kv-live-text' }, `Generated: ${profile.text}`));
}

function renderCompare(): void {
  cmp.replaceChildren();
  if (compareError) cmp.append(el('div', { class: 'error', role: 'alert' }, compareError));
  if (comparing) cmp.append(el('p', { class: 'muted' }, el('vscode-progress-ring', { 'aria-label': 'measuring' }), ' Timing each position with and without the cache…'));
  if (!compare) return;
  cmp.append(
    chart(
      'kv-compare-chart',
      'Time of one step against position, with the KV cache and recomputing without it',
      compare.map((r) => r.position + 1),
      [
        { name: 'with cache', ys: compare.map((r) => r.withCacheMs), color: C1 },
        { name: 'without cache', ys: compare.map((r) => r.withoutCacheMs), color: C2 },
      ],
      'context',
      'ms',
    ),
    kvTable(
      compare.map((r) => [
        `context ${r.position + 1}`,
        `${r.withCacheMs.toFixed(3)} ms with, ${r.withoutCacheMs.toFixed(3)} ms without (max |Δ logits| ${r.maxAbsDiff.toExponential(1)})`,
      ]),
      'kv-compare-table',
    ),
  );
}

function renderWhatIf(): void {
  out.replaceChildren();
  const r = whatIf();
  if (typeof r === 'string') {
    out.append(el('div', { class: 'error', role: 'alert', id: 'kv-whatif-error' }, r));
    return;
  }
  const gib = (b: number) => `${b.toLocaleString('en')} bytes (${(b / 2 ** 30).toFixed(3)} GiB)`;
  const windowed = r.tokensPerLayer.filter((t) => t < r.context).length;
  const rows: [string, string][] = [
    ['Model', r.name],
    ['Attention', `${r.attention.toUpperCase()}${r.kvHeads ? `, ${r.kvHeads} KV heads` : ''}`],
    ['Per token (all layers)', `${r.bytesPerToken.toLocaleString('en')} bytes`],
    ['KV cache', gib(r.cacheBytes)],
  ];
  if (windowed) rows.push(['Sliding-window layers', `${windowed} of ${r.tokensPerLayer.length} hold ${Math.min(...r.tokensPerLayer)} tokens (a ring of the window)`]);
  if (r.scaleBytes) rows.push(['of which scales', gib(r.scaleBytes)]);
  if (r.fragmentationBytes) rows.push(['of which paged fragmentation', gib(r.fragmentationBytes)]);
  rows.push(['Weights', `${gib(r.weightsBytes)}, ${r.params.toLocaleString('en')} parameters${r.paramsEstimated ? ' (estimated)' : ''} at f16`]);
  rows.push(['Weights + cache', gib(r.totalBytes)]);
  if (r.gpuMemoryBytes)
    rows.push([
      'GPU memory',
      `${(r.gpuMemoryBytes / 2 ** 30).toFixed(1)} GiB: ${r.fits ? 'fits' : 'does not fit'}; the largest context that fits is ${r.maxContextThatFits!.toLocaleString('en')}`,
    ]);
  const status = el(
    'p',
    { id: 'kv-whatif-result', 'data-cache-bytes': String(r.cacheBytes), 'data-per-token': String(r.bytesPerToken), 'data-attention': r.attention },
    `KV cache: ${(r.cacheBytes / 2 ** 30).toFixed(3)} GiB`,
  );
  out.append(status, kvTable(rows, 'kv-whatif-table'));
  for (const w of r.warnings) out.append(el('p', { class: 'warning', role: 'status' }, `⚠ ${w}`));
}

function refresh(): void {
  if (!root) return;
  const b = blocked();
  toggle(runBtn, !!b, b);
  toggle(cmpBtn, !!b, b);
  why.textContent = b ?? '';
  refreshQuant(b);
  renderLive();
  renderCompare();
  renderWhatIf();
}

function field(label: string, input: HTMLElement): HTMLElement {
  return el('label', { class: 'field' }, `${label} `, input);
}

function select(id: string, label: string, options: [string, string][], value: string, on: (v: string) => void): HTMLSelectElement {
  const s = el('select', { id, 'aria-label': label }) as HTMLSelectElement;
  for (const [v, t] of options) s.append(el('option', { value: v }, t));
  s.value = value;
  s.addEventListener('change', () => on(s.value));
  return s;
}

function input(id: string, label: string, value: string, on: (v: string) => void): HTMLInputElement {
  const i = el('input', { id, type: 'number', min: '0', step: '1', 'aria-label': label }) as HTMLInputElement;
  i.value = value;
  i.addEventListener('input', () => on(i.value));
  return i;
}

function build(): HTMLElement {
  const box = el('section', { id: 'kv', 'aria-labelledby': 'kv-h' });
  box.append(el('h2', { id: 'kv-h' }, 'KV cache'));
  // live profile
  const p = el('textarea', { id: 'kv-prompt', rows: '2', 'aria-label': 'Prompt to profile' }) as HTMLTextAreaElement;
  p.value = prompt;
  p.addEventListener('input', () => {
    prompt = p.value;
    save();
  });
  const n = input('kv-max', 'Max new tokens (1–1024)', String(maxTokens), (v) => {
    const x = Number(v);
    if (Number.isInteger(x) && x >= 1 && x <= 1024) maxTokens = x;
    save();
  });
  runBtn = button('Profile a generation', 'pulse', startProfile, false);
  runBtn.id = 'kv-run';
  cmpBtn = button('With and without the cache', 'graph-line', startCompare);
  cmpBtn.id = 'kv-compare';
  why = el('span', { class: 'why', id: 'kv-why' });
  live = el('div', { id: 'kv-live' });
  cmp = el('div', { id: 'kv-compare-out' });
  box.append(
    el('h3', {}, 'Live, from the engine'),
    p,
    el('div', { class: 'row' }, field('Max new tokens', n), runBtn, cmpBtn, why),
    live,
    el('h3', {}, 'With and without the cache'),
    el('p', { class: 'muted' }, 'The same step timed with the cache (one token against the cached ones) and recomputing the whole prefix without it, at each context.'),
    cmp,
    quantSection(refresh),
  );
  // what-ifs
  const onForm = () => {
    save();
    renderWhatIf();
  };
  const pasted = el('textarea', { id: 'kv-pasted', rows: '4', 'aria-label': 'Pasted config.json', placeholder: 'Paste a Hugging Face config.json' }) as HTMLTextAreaElement;
  pasted.value = form.pasted;
  pasted.hidden = form.source !== 'pasted';
  pasted.addEventListener('input', () => {
    form.pasted = pasted.value;
    onForm();
  });
  const src = select(
    'kv-source',
    'Model',
    [['active', 'The active model'], ...BUILTIN_NAMES.map((b): [string, string] => [b, b]), ['pasted', 'Pasted config.json']],
    form.source,
    (v) => {
      form.source = v;
      pasted.hidden = v !== 'pasted';
      onForm();
    },
  );
  out = el('div', { id: 'kv-whatif-out' });
  box.append(
    el('h3', {}, 'What if'),
    el('div', { class: 'row' }, field('Model', src)),
    pasted,
    el(
      'div',
      { class: 'row' },
      field(
        'Context',
        input('kv-context', 'Context length', form.context, (v) => ((form.context = v), onForm())),
      ),
      field(
        'Batch',
        input('kv-batch', 'Batch', form.batch, (v) => ((form.batch = v), onForm())),
      ),
      field(
        'KV dtype',
        select(
          'kv-dtype',
          'KV dtype',
          [
            ['f32', 'f32'],
            ['f16', 'f16'],
            ['int8', 'int8 (+ scales)'],
            ['int4', 'int4 (+ scales)'],
            ['q8_0', "q8_0 (llama.cpp's, 34 B per 32)"],
          ],
          form.dtype,
          (v) => ((form.dtype = v as KvDtype), onForm()),
        ),
      ),
      field(
        'Attention',
        select(
          'kv-attention',
          'Attention kind',
          [
            ['config', 'as the config'],
            ['mha', 'MHA'],
            ['gqa', 'GQA'],
            ['mqa', 'MQA'],
            ['mla', 'MLA (DeepSeek)'],
          ],
          form.attention,
          (v) => ((form.attention = v as AttentionKind), onForm()),
        ),
      ),
      field(
        'Window (empty: config, 0: none)',
        input('kv-window', 'Sliding window', form.window, (v) => ((form.window = v), onForm())),
      ),
      field(
        'Paged block (0: contiguous)',
        input('kv-block', 'Paged block size', form.block, (v) => ((form.block = v), onForm())),
      ),
      field(
        'GPU memory (GiB)',
        input('kv-gpu', 'GPU memory in GiB', form.gpu, (v) => ((form.gpu = v), onForm())),
      ),
    ),
    el('p', { class: 'muted' }, `GPUs: ${GPUS.map((g) => `${g.name} = ${(g.bytes / 2 ** 30).toFixed(1)} GiB`).join('; ')}.`),
    out,
  );
  return box;
}

export const kvPanel: Panel = {
  id: 'kv',
  title: 'KV cache',
  init() {
    onModelsState(() => refresh());
  },
  render(): HTMLElement {
    root ??= build();
    refresh();
    return root;
  },
};
