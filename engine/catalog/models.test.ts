/**
 * The model manager's engine side: header checks and every error message,
 * discovery limits and trust gating, range serving, stop strings, and the
 * worker session loading stories260K by byte ranges and generating greedily.
 */
import { mkdtempSync, mkdirSync, readFileSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import type { ModelLoadSpec, WorkerToWebview } from '../protocol/index';
import { fmtBytes, fmtCount, modelDetailRows } from './describe';
import { discoverModels, discoveryAllowed } from './discover-node';
import { inspectHf, memoryDir, type ModelInfo } from '../formats/inspect';
import { memoryPlan } from './inspect';
import { inspectPath } from './inspect-node';
import { MAX_CONCURRENT_READS, ModelRangeServer, RangeRefused } from './range-node';
import { GENERATE_PREFILL_CHUNK, ModelSession } from '../worker/session';
import { CpuBackend } from '../backend/cpu';
import { loadLlama2cModel } from '../formats/llama2c-model';
import { memorySource } from '../formats/source';
import { generateAll } from '../generate/generate';
import { tokenizerFromBytes } from '../tokenizer/index';
import { StopStringFilter } from '../generate/stopping';

const FIX = path.resolve('../shared/fixtures');
const BIN = `${FIX}/llama2c/stories260K.bin`;
const TOK = `${FIX}/llama2c/tok512.bin`;
const GGUF = `${FIX}/gguf/stories260K.gguf`;
const QWEN3 = `${FIX}/models/tiny-qwen3`;

function tmp(): string {
  return mkdtempSync(path.join(tmpdir(), 'llmp-models-'));
}

function truncatedCopy(src: string, dir: string, keep: number): string {
  const p = path.join(dir, path.basename(src));
  writeFileSync(p, readFileSync(src).subarray(0, keep));
  return p;
}

/** A safetensors file with one tensor of the given dtype. */
function safetensors(dtype: string, itemBytes: number, shape: number[]): Uint8Array {
  const n = shape.reduce((a, b) => a * b, 1) * itemBytes;
  const header = new TextEncoder().encode(JSON.stringify({ w: { dtype, shape, data_offsets: [0, n] } }));
  const out = new Uint8Array(8 + header.length + n);
  new DataView(out.buffer).setUint32(0, header.length, true);
  out.set(header, 8);
  return out;
}

describe('header checks', () => {
  test('stories260K.bin with tok512.bin beside it: ready, its statistics, no weights read', async () => {
    const r = await inspectPath(BIN);
    expect(r.status).toBe('ready');
    const i = r.info!;
    expect(i).toMatchObject({
      format: 'llama2c',
      architecture: 'llama',
      contextLength: 512,
      vocabSize: 512,
      numLayers: 5,
      numHeads: 8,
      numKvHeads: 4,
      headDim: 8,
      dtypes: ['F32'],
    });
    expect(i.tokenizer).toEqual({ kind: 'llama2c', source: 'tok512.bin' });
    expect(i.parameters).toBeGreaterThan(250_000);
    expect(i.parameters).toBeLessThan(300_000);
    expect(i.kvBytesPerToken).toBe(2 * 5 * 4 * 8 * 4);
    expect(i.files.map((f) => f.name)).toEqual(['stories260K.bin', 'tok512.bin']);
  });

  test('the GGUF: ready, embedded tokenizer, same parameter count as the .bin', async () => {
    const [g, b] = await Promise.all([inspectPath(GGUF), inspectPath(BIN)]);
    expect(g.status).toBe('ready');
    expect(g.info).toMatchObject({ format: 'gguf', architecture: 'llama', contextLength: 2048, vocabSize: 512, tokenizer: { kind: 'gguf-llama', source: 'embedded' } });
    // the GGUF stores the tied classifier twice (output.weight = token_embd.weight): counted once, as the loader reads it
    expect(g.info!.parameters).toBe(b.info!.parameters);
  });

  test('tiny-qwen3 (no tokenizer.json): listed with details and a "missing tokenizer" warning', async () => {
    const r = await inspectPath(QWEN3);
    expect(r.status).toBe('warning');
    expect(r.info).toMatchObject({ format: 'safetensors', architecture: 'qwen3', headDim: 16, dtypes: ['F32'] });
    expect(r.problem).toMatchObject({ kind: 'tokenizer' });
    expect(r.problem!.message).toMatch(/^Missing tokenizer: no tokenizer\.json/);
    expect(r.info!.files.map((f) => f.name)).toEqual(['model.safetensors', 'config.json', 'generation_config.json']);
  });

  test('a truncated GGUF: "Truncated file" at the offset where it ends', async () => {
    const dir = tmp();
    const p = truncatedCopy(GGUF, dir, 600_000);
    const r = await inspectPath(p);
    expect(r.status).toBe('error');
    expect(r.problem!.kind).toBe('truncated');
    expect(r.problem!.message).toMatch(/^Truncated file: it ends at offset 600000/);
    expect(r.problem!.detail).toContain(p);
  });

  test('a GGUF cut inside its header', async () => {
    const r = await inspectPath(truncatedCopy(GGUF, tmp(), 100));
    expect(r.problem).toMatchObject({ kind: 'truncated' });
    expect(r.problem!.message).toMatch(/^Truncated file: it ends at offset 100/);
  });

  test('a truncated llama2.c checkpoint names the expected size', async () => {
    const dir = tmp();
    copyFileSync(TOK, path.join(dir, 'tok512.bin'));
    const r = await inspectPath(truncatedCopy(BIN, dir, 500_000));
    expect(r.problem!.kind).toBe('truncated');
    expect(r.problem!.message).toMatch(/^Truncated file: it ends at offset 500000 \(expected \d+ bytes/);
  });

  test('a llama2.c checkpoint alone: missing tokenizer', async () => {
    const dir = tmp();
    copyFileSync(BIN, path.join(dir, 'model.bin'));
    const r = await inspectPath(path.join(dir, 'model.bin'));
    expect(r.status).toBe('warning');
    expect(r.problem).toMatchObject({ kind: 'tokenizer', message: 'Missing tokenizer: no tokenizer.bin (or one tok*.bin) beside it' });
  });

  test('unsupported architecture (config.json model_type)', async () => {
    const config = JSON.parse(readFileSync(`${QWEN3}/config.json`, 'utf8'));
    const dir = memoryDir('bert', {
      'config.json': new TextEncoder().encode(JSON.stringify({ ...config, model_type: 'bert' })),
      'model.safetensors': readFileSync(`${QWEN3}/model.safetensors`),
    });
    const r = await inspectHf(dir);
    expect(r.status).toBe('error');
    expect(r.problem).toMatchObject({ kind: 'architecture', message: 'Unsupported architecture "bert"' });
  });

  test('unsupported dtype: a valid safetensors tensor in I32', async () => {
    const config = readFileSync(`${QWEN3}/config.json`);
    const r = await inspectHf(memoryDir('int', { 'config.json': config, 'model.safetensors': safetensors('I32', 4, [2, 2]), 'tokenizer.json': new Uint8Array([0x7b, 0x7d]) }));
    expect(r.status).toBe('error');
    expect(r.problem).toMatchObject({ kind: 'dtype', message: 'Unsupported dtype I32 (tensor w)' });
  });

  test('no weights in an HF folder', async () => {
    const r = await inspectHf(memoryDir('empty', { 'config.json': readFileSync(`${QWEN3}/config.json`) }));
    expect(r.problem).toMatchObject({ kind: 'missing' });
    expect(r.problem!.message).toMatch(/^No weights found/);
  });

  test('ONNX runs on the ort backend: the graph is read; without a tokenizer.json beside it, a warning', async () => {
    const r = await inspectPath(`${FIX}/onnx/tiny-llama/model.onnx`);
    expect(r.status).toBe('warning');
    expect(r.info).toMatchObject({ format: 'onnx', numLayers: 2, numKvHeads: 4, headDim: 8, vocabSize: 512 });
    expect(r.problem).toMatchObject({ kind: 'tokenizer', message: 'Missing tokenizer: no tokenizer.json beside the .onnx' });
  });

  test('a path that is gone, and a file that is no model', async () => {
    expect((await inspectPath('/no/such/model.gguf')).problem).toMatchObject({ kind: 'missing', message: 'Not found on disk' });
    expect((await inspectPath(`${FIX}/README.md`)).problem).toMatchObject({ kind: 'format', message: 'Not a model file this extension knows' });
  });
});

describe('memory plan', () => {
  const info = { parameters: 1000, kvBytesPerToken: 80, numLayers: 2, hiddenSize: 8, numHeads: 2, headDim: 4, vocabSize: 10, largestTensorBytes: 400 } as ModelInfo;
  test('weights f32 + KV cache at the context length + scratch', () => {
    const p = memoryPlan(info, 100);
    expect(p.weightBytes).toBe(4000);
    expect(p.kvCacheBytes).toBe(8000);
    expect(p.totalBytes).toBe(4000 + 8000 + p.scratchBytes);
    expect(p.problems).toEqual([]);
  });
  test('says which buffer does not fit the adapter', () => {
    const p = memoryPlan(info, 100, { maxBufferSize: 300, maxStorageBufferBindingSize: 300 });
    expect(p.problems.join('\n')).toMatch(/largest weight \(400 bytes as f32\) exceeds maxStorageBufferBindingSize \(300\)/);
    expect(p.problems.join('\n')).toMatch(/exceeds maxBufferSize \(300\)/);
  });
});

describe('model details', () => {
  test('number formats', () => {
    expect(fmtBytes(undefined)).toBe('—');
    expect(fmtBytes(512)).toBe('512 B');
    expect(fmtBytes(1536)).toBe('1.5 KiB');
    expect(fmtBytes(3 * 1024 ** 3)).toBe('3 GiB');
    expect(fmtCount(999)).toBe('999');
    expect(fmtCount(260_032)).toBe('260.0K');
    expect(fmtCount(1_235_814_400)).toBe('1.24B');
  });
  test('one table for the tree tooltip and the Model tab, ONNX included', async () => {
    const info = await inspectPath(BIN);
    const rows = Object.fromEntries(modelDetailRows(info.info!));
    expect(rows).toMatchObject({ Format: 'llama2c', Architecture: 'llama', 'Context length': '512', Vocabulary: '512', 'Layers / heads / KV heads / head size': '5 / 8 / 4 / 8' });
    const onnx = Object.fromEntries(modelDetailRows((await inspectPath(`${FIX}/onnx/tiny-llama/model.onnx`)).info!));
    expect(onnx).toMatchObject({ Format: 'onnx', Architecture: 'onnx', Dtypes: 'F32', Vocabulary: '512', Tokenizer: 'none' });
  });
});

describe('discovery', () => {
  function tree(): string {
    const root = tmp();
    mkdirSync(path.join(root, 'a/b/c/d'), { recursive: true });
    copyFileSync(GGUF, path.join(root, 'a/m.gguf'));
    mkdirSync(path.join(root, 'hf'));
    copyFileSync(`${QWEN3}/config.json`, path.join(root, 'hf/config.json'));
    copyFileSync(`${QWEN3}/model.safetensors`, path.join(root, 'hf/model.safetensors'));
    copyFileSync(BIN, path.join(root, 'a/b/stories.bin'));
    copyFileSync(TOK, path.join(root, 'a/b/tok512.bin'));
    writeFileSync(path.join(root, 'a/b/c/d/deep.onnx'), 'x');
    writeFileSync(path.join(root, 'a/other.bin'), 'not a checkpoint'); // no tokenizer beside, and bad header
    mkdirSync(path.join(root, 'node_modules/x'), { recursive: true });
    writeFileSync(path.join(root, 'node_modules/x/skip.gguf'), 'x');
    symlinkSync(root, path.join(root, 'a/loop')); // a symlink loop
    return root;
  }

  test('finds each kind, skips node_modules, follows no symlink loop', async () => {
    const root = tree();
    const r = await discoverModels([root]);
    expect(r.stoppedBy).toBeUndefined();
    expect(r.found.map((p) => path.relative(root, p)).sort()).toEqual(['a/b/c/d/deep.onnx', 'a/b/stories.bin', 'a/m.gguf', 'hf']);
    expect(r.skipped.loops).toBeGreaterThanOrEqual(1);
  });

  test('maxDepth', async () => {
    const root = tree();
    const r = await discoverModels([root], { maxDepth: 1 });
    expect(r.found.map((p) => path.relative(root, p)).sort()).toEqual(['a/m.gguf', 'hf']);
    expect(r.skipped.tooDeep).toBeGreaterThan(0);
  });

  test('maxFiles', async () => {
    const r = await discoverModels([tree()], { maxFiles: 3 });
    expect(r.stoppedBy).toBe('maxFiles');
    expect(r.seen).toBeLessThanOrEqual(3);
  });

  test('timeout (a clock that jumps) and cancel', async () => {
    let t = 0;
    const r = await discoverModels([tree()], { timeoutMs: 10, now: () => (t += 20) });
    expect(r.stoppedBy).toBe('timeout');
    const ac = new AbortController();
    ac.abort();
    const c = await discoverModels([tree()], { signal: ac.signal });
    expect(c).toMatchObject({ stoppedBy: 'cancelled', found: [] });
  });

  test('gated by Workspace Trust and the opt-in setting', () => {
    expect(discoveryAllowed({ setting: true, trusted: true })).toEqual({ allowed: true });
    expect(discoveryAllowed({ setting: true, trusted: false })).toMatchObject({ allowed: false, reason: expect.stringMatching(/not trusted/) });
    expect(discoveryAllowed({ setting: false, trusted: true })).toMatchObject({ allowed: false, reason: expect.stringMatching(/discoverModels is off/) });
    expect(discoveryAllowed({ setting: false, trusted: false }).allowed).toBe(false);
  });
});

describe('range server', () => {
  const server = new ModelRangeServer((id) => (id === 'm' ? { root: path.dirname(BIN), files: ['stories260K.bin', 'tok512.bin'] } : undefined));
  test('reads the bytes asked for', async () => {
    const b = await server.read('m', 'stories260K.bin', 4, 8);
    expect([...b]).toEqual([...readFileSync(BIN).subarray(4, 12)]);
  });
  test('refuses unknown models, other files, ranges outside the file, and huge ranges', async () => {
    await expect(server.read('x', 'stories260K.bin', 0, 1)).rejects.toThrow(/unknown model/);
    await expect(server.read('m', 'tok512.model', 0, 1)).rejects.toThrow(/is not a file of model/);
    await expect(server.read('m', '../llama2c/stories260K.bin', 0, 1)).rejects.toThrow(RangeRefused);
    await expect(server.read('m', 'tok512.bin', 1e9, 1)).rejects.toThrow(/outside the file/);
    await expect(server.read('m', 'tok512.bin', -1, 1)).rejects.toThrow(/bad range/);
    await expect(server.read('m', 'stories260K.bin', 0, 64 * 1024 * 1024)).rejects.toThrow(/limit per request/);
    await server.closeAll();
  });
  test('a flood of concurrent reads is served a few at a time, every one answered', async () => {
    const flood = new ModelRangeServer((id) => (id === 'm' ? { root: path.dirname(BIN), files: ['stories260K.bin'] } : undefined));
    const want = readFileSync(BIN);
    const got = await Promise.all(Array.from({ length: 50 }, (_, i) => flood.read('m', 'stories260K.bin', i * 1000, 1000)));
    got.forEach((b, i) => expect(Buffer.from(b).equals(want.subarray(i * 1000, i * 1000 + 1000))).toBe(true));
    expect(flood.peakConcurrent).toBeLessThanOrEqual(MAX_CONCURRENT_READS);
    await flood.closeAll();
  });
});

describe('stop strings', () => {
  test('holds back a possible start, cuts at the stop string', () => {
    const f = new StopStringFilter(['\n\n', 'The end']);
    expect(f.push('Hello')).toBe('Hello');
    expect(f.push(' world\n')).toBe(' world');
    expect(f.push('x')).toBe('\nx');
    expect(f.push(' The')).toBe(' ');
    expect(f.push(' end!')).toBe('');
    expect(f.done).toBe(true);
  });
  test('flush releases what was held', () => {
    const f = new StopStringFilter(['abc']);
    expect(f.push('xab')).toBe('x');
    expect(f.flush()).toBe('ab');
  });
});

describe('worker session', () => {
  const REF = JSON.parse(readFileSync(`${FIX}/refs/stories260K.greedy.shared.json`, 'utf8')) as { cases: { prompt: string; stdout: string }[] };

  function session(files: Record<string, Uint8Array>) {
    const out: WorkerToWebview[] = [];
    let ranges = 0;
    const s: ModelSession = new ModelSession((m) => {
      out.push(m);
      if (m.type === 'readRange') {
        ranges++;
        const b = files[m.file];
        queueMicrotask(() => s.handle({ type: 'rangeData', reqId: m.reqId, bytes: b.slice(m.offset, m.offset + m.length) }));
      }
    });
    return { s, out, ranges: () => ranges };
  }

  for (const [name, spec, files] of [
    [
      'llama2c .bin',
      { modelId: 'bin', name: 'bin', format: 'llama2c', weights: 'stories260K.bin', tokenizer: 'tok512.bin', files: [] },
      { 'stories260K.bin': BIN, 'tok512.bin': TOK },
    ],
    ['GGUF', { modelId: 'gguf', name: 'gguf', format: 'gguf', weights: 'stories260K.gguf', tokenizer: 'embedded', files: [] }, { 'stories260K.gguf': GGUF }],
  ] as const) {
    test(`${name}: loads by byte ranges and generates llama2.c's greedy continuation`, async () => {
      const bytes = Object.fromEntries(Object.entries(files).map(([k, p]) => [k, new Uint8Array(readFileSync(p))]));
      const full: ModelLoadSpec = { ...spec, files: Object.entries(bytes).map(([n, b]) => ({ name: n, size: b.length, role: n === spec.weights ? 'weights' : 'tokenizer' })) };
      const { s, out, ranges } = session(bytes);
      await s.load(1, full, 512, 'cpu');
      const loaded = out.find((m) => m.type === 'loaded' || m.type === 'loadFailed');
      expect(loaded, JSON.stringify(out.filter((m) => m.type !== 'readRange').slice(-2))).toMatchObject({ type: 'loaded', summary: { device: 'cpu', contextLength: 512 } });
      expect(ranges()).toBeGreaterThan(2);
      expect(out.some((m) => m.type === 'loadProgress')).toBe(true);
      await s.generate(2, 'Once upon a time', 40, []);
      const done = out.find((m) => m.type === 'genDone') as Extract<WorkerToWebview, { type: 'genDone' }>;
      const streamed = out
        .filter((m): m is Extract<WorkerToWebview, { type: 'genText' }> => m.type === 'genText')
        .map((m) => m.text)
        .join('');
      expect(done.text).toBe(streamed);
      expect(done.text.startsWith(', there was a little girl named Lily. She loved to play outside in the park.')).toBe(true);
      const ref = REF.cases.find((c) => c.prompt === 'Once upon a time')!;
      expect(ref.stdout.startsWith(`Once upon a time${done.text}`) || `Once upon a time${done.text}`.startsWith(ref.stdout.trim())).toBe(true);
      expect(done.stopReason).toBe('length');
      expect(done.tokens).toBe(40);
    });
  }

  test('a load that replaces one in flight is not cancelled with it', async () => {
    const bytes = { 'stories260K.bin': new Uint8Array(readFileSync(BIN)), 'tok512.bin': new Uint8Array(readFileSync(TOK)) };
    const spec: ModelLoadSpec = {
      modelId: 'bin',
      name: 'bin',
      format: 'llama2c',
      weights: 'stories260K.bin',
      tokenizer: 'tok512.bin',
      files: Object.entries(bytes).map(([n, b]) => ({ name: n, size: b.length, role: 'weights' })),
    };
    const out: WorkerToWebview[] = [];
    // The first load's reads wait until released; the second's are answered at once.
    const held: Extract<WorkerToWebview, { type: 'readRange' }>[] = [];
    let hold = true;
    const answer = (m: Extract<WorkerToWebview, { type: 'readRange' }>) =>
      s.handle({ type: 'rangeData', reqId: m.reqId, bytes: bytes[m.file as keyof typeof bytes].slice(m.offset, m.offset + m.length) });
    const s: ModelSession = new ModelSession((m) => {
      out.push(m);
      if (m.type !== 'readRange') return;
      if (hold) held.push(m);
      else setTimeout(() => answer(m), 5);
    });
    const first = s.load(1, spec, 256, 'cpu');
    await new Promise((r) => setTimeout(r, 10));
    expect(held.length).toBe(1);
    hold = false;
    const second = s.load(2, spec, 256, 'cpu');
    // The first load's read comes back while the second is reading: the first ends, cancelled.
    answer(held[0]!);
    await Promise.all([first, second]);
    expect(out.find((m) => m.type === 'loadFailed' && m.id === 1)).toMatchObject({ cancelled: true });
    expect(out.find((m) => (m.type === 'loaded' || m.type === 'loadFailed') && m.id === 2)).toMatchObject({ type: 'loaded' });
  });

  test('a long prompt is read in chunks with progress, gives the unchunked continuation, and Stop ends it between chunks', async () => {
    const bytes = { 'stories260K.bin': new Uint8Array(readFileSync(BIN)), 'tok512.bin': new Uint8Array(readFileSync(TOK)) };
    const spec: ModelLoadSpec = {
      modelId: 'bin',
      name: 'bin',
      format: 'llama2c',
      weights: 'stories260K.bin',
      tokenizer: 'tok512.bin',
      files: Object.entries(bytes).map(([n, b]) => ({ name: n, size: b.length, role: 'weights' })),
    };
    const { s, out } = session(bytes);
    await s.load(1, spec, 512, 'cpu');
    const prompt = 'Once upon a time, there was a little girl named Lily. She loved to play outside. '.repeat(12);
    await s.generate(2, prompt, 8, []);
    const progress = out.filter((m): m is Extract<WorkerToWebview, { type: 'genProgress' }> => m.type === 'genProgress' && m.id === 2);
    const done = out.find((m) => m.type === 'genDone' && m.id === 2) as Extract<WorkerToWebview, { type: 'genDone' }>;
    expect(done.promptTokens).toBeGreaterThan(GENERATE_PREFILL_CHUNK);
    expect(progress.map((m) => m.done)).toEqual(Array.from({ length: Math.ceil(done.promptTokens / GENERATE_PREFILL_CHUNK) - 1 }, (_, i) => (i + 1) * GENERATE_PREFILL_CHUNK));
    expect(progress.every((m) => m.total === done.promptTokens)).toBe(true);
    // the same ids as one unchunked prefill on the same weights
    const loaded = await loadLlama2cModel(memorySource(bytes['stories260K.bin'], 'stories260K.bin'));
    const tok = tokenizerFromBytes(bytes['tok512.bin'], 'tok512.bin');
    const whole = await generateAll(new CpuBackend(loaded, { contextLength: 512 }), { promptIds: tok.encodeIds(prompt), maxNewTokens: 8, eosIds: [] });
    expect(done.text).toBe(tok.decode(whole.ids));
    // Stop as the first chunk is reported: the run ends before reading the rest, with no token
    const s2 = new ModelSession((m) => {
      if (m.type === 'readRange')
        queueMicrotask(() => s2.handle({ type: 'rangeData', reqId: m.reqId, bytes: bytes[m.file as keyof typeof bytes].slice(m.offset, m.offset + m.length) }));
      if (m.type === 'genProgress') s2.handle({ type: 'stopGenerate', id: m.id });
      out.push(m);
    });
    await s2.load(3, spec, 512, 'cpu');
    await s2.generate(4, prompt, 8, []);
    expect(out.filter((m) => m.type === 'genProgress' && m.id === 4).length).toBe(1);
    expect(out.find((m) => m.type === 'genDone' && m.id === 4)).toMatchObject({ stopReason: 'cancelled', tokens: 0 });
  });

  test('stop strings end the text before them; Stop ends generation; cancel ends a load', async () => {
    const bytes = { 'stories260K.bin': new Uint8Array(readFileSync(BIN)), 'tok512.bin': new Uint8Array(readFileSync(TOK)) };
    const spec: ModelLoadSpec = {
      modelId: 'bin',
      name: 'bin',
      format: 'llama2c',
      weights: 'stories260K.bin',
      tokenizer: 'tok512.bin',
      files: Object.entries(bytes).map(([n, b]) => ({ name: n, size: b.length, role: 'weights' })),
    };
    const { s, out } = session(bytes);
    await s.load(1, spec, 256, 'gpu');
    expect(out.find((m) => m.type === 'loaded')).toMatchObject({ summary: { device: 'cpu', note: expect.stringMatching(/not available/) } });
    await s.generate(2, 'Once upon a time', 100, ['Lily']);
    const done = out.find((m) => m.type === 'genDone' && m.id === 2) as Extract<WorkerToWebview, { type: 'genDone' }>;
    expect(done).toMatchObject({ text: ', there was a little girl named ', stopReason: 'stopString' });
    const p = s.generate(3, 'Once upon a time', 100, []);
    s.handle({ type: 'stopGenerate', id: 3 });
    await p;
    expect(out.find((m) => m.type === 'genDone' && m.id === 3)).toMatchObject({ stopReason: 'cancelled', tokens: 1 });
    const l = s.load(4, spec, 256, 'cpu');
    s.handle({ type: 'cancelLoad', id: 4 });
    await l;
    expect(out.find((m) => m.type === 'loadFailed' && m.id === 4)).toMatchObject({ cancelled: true, message: 'Loading was cancelled.' });
    await s.generate(5, 'x', 1, []);
    expect(out.find((m) => m.type === 'genError' && m.id === 5)).toMatchObject({ message: 'No model is loaded yet.' });
  });
});
