/**
 * llm-playground kv: what a KV cache costs.
 *   kv --model <path> --context N [--backend cpu|webgpu] [--kv-dtype f32|int8]    the engine's own cache:
 *      predicted from the config beside the bytes the backend really allocated
 *   kv --config <config.json | built-in name> [--context N] [--batch B] [--kv-dtype f32|f16|int8|int4|q8_0]
 *      [--attention config|mha|gqa|mqa|mla] [--kv-heads K] [--window W] [--window-layers config|all|alternate]
 *      [--block-size B] [--weight-dtype f32|f16|int8|int4] [--gpu <name>|<GiB>]   what-ifs for any model
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Backend, BackendId } from '../backend/contract';
import { openModel } from '../formats/load-node';
import type { LoadedModel } from '../model/types';
import { BUILTIN_NAMES, builtinSpec } from '../model/kv/builtins';
import { predictEngineKv, type KvCacheDtype } from '../model/kv/layout';
import { specFromHfConfig } from '../model/kv/spec';
import { GPUS, kvWhatIf, type AttentionKind, type KvDtype, type WhatIfOptions } from '../model/kv/whatif';

export class KvUsageError extends Error {}

type Out = (s: string) => void;
export type OpenBackend = (id: BackendId, loaded: LoadedModel, contextLength: number, kvDtype: KvCacheDtype) => Promise<Backend>;

const OPTIONS = {
  json: { type: 'boolean' },
  model: { type: 'string' },
  config: { type: 'string' },
  list: { type: 'boolean' },
  context: { type: 'string' },
  batch: { type: 'string' },
  'kv-dtype': { type: 'string' },
  backend: { type: 'string' },
  attention: { type: 'string' },
  'kv-heads': { type: 'string' },
  window: { type: 'string' },
  'window-layers': { type: 'string' },
  'block-size': { type: 'string' },
  'weight-dtype': { type: 'string' },
  gpu: { type: 'string' },
} as const;

function count(s: string | undefined, name: string, allowZero = false): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isFinite(n) || !Number.isInteger(n) || n < (allowZero ? 0 : 1)) throw new KvUsageError(`--${name} must be an integer ≥ ${allowZero ? 0 : 1}, got "${s}"`);
  return n;
}

function oneOf<T extends string>(s: string | undefined, name: string, allowed: readonly T[]): T | undefined {
  if (s === undefined) return undefined;
  if (!allowed.includes(s as T)) throw new KvUsageError(`--${name} must be ${allowed.join(', ')}, got "${s}"`);
  return s as T;
}

const snake = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`), v]));

/** --gpu: a listed GPU by a part of its name, or a size in GiB. */
function gpuBytes(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (Number.isFinite(n) && n > 0) return n * 2 ** 30;
  const g = GPUS.find((x) => x.name.toLowerCase().includes(s.toLowerCase()));
  if (!g) throw new KvUsageError(`--gpu must be a size in GiB or one of: ${GPUS.map((x) => x.name).join('; ')}; got "${s}"`);
  return g.bytes;
}

export async function cmdKv(argv: string[], out: Out, openBackend: OpenBackend): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options: OPTIONS, strict: true }).values;
  } catch (e) {
    throw new KvUsageError((e as Error).message);
  }
  const str = (k: keyof typeof OPTIONS) => values[k] as string | undefined;
  if (values.list) return out(values.json ? JSON.stringify({ builtins: BUILTIN_NAMES, gpus: GPUS }) : BUILTIN_NAMES.join('\n'));
  if (values.model && values.config) throw new KvUsageError('kv takes --model (the engine’s own cache) or --config (what-ifs), not both');
  if (values.model) return engineKv(str('model')!, values, out, openBackend);
  if (!values.config) throw new KvUsageError(`kv needs --model <path> or --config <config.json | built-in: ${BUILTIN_NAMES.join(', ')}>`);
  const name = str('config')!;
  let spec = builtinSpec(name);
  if (!spec) {
    let text: string;
    try {
      text = await readFile(name, 'utf8');
    } catch (e) {
      throw new KvUsageError(`--config: "${name}" is neither a readable config.json (${(e as Error).message}) nor a built-in (${BUILTIN_NAMES.join(', ')})`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new KvUsageError(`--config: ${name} is not JSON: ${(e as Error).message}`);
    }
    spec = specFromHfConfig(json, name);
  }
  const opts: WhatIfOptions = {
    context: count(str('context'), 'context') ?? spec.maxPositions,
    batch: count(str('batch'), 'batch'),
    kvDtype: oneOf<KvDtype>(str('kv-dtype'), 'kv-dtype', ['f32', 'f16', 'int8', 'int4', 'q8_0']),
    attention: oneOf<AttentionKind>(str('attention'), 'attention', ['config', 'mha', 'gqa', 'mqa', 'mla']),
    kvHeads: count(str('kv-heads'), 'kv-heads'),
    window: count(str('window'), 'window', true),
    windowLayers: oneOf(str('window-layers'), 'window-layers', ['config', 'all', 'alternate'] as const),
    blockSize: count(str('block-size'), 'block-size', true),
    weightDtype: oneOf(str('weight-dtype'), 'weight-dtype', ['f32', 'f16', 'int8', 'int4'] as const),
    gpuMemoryBytes: gpuBytes(str('gpu')),
  };
  const r = kvWhatIf(spec, opts);
  if (values.json) return out(JSON.stringify(snake({ ...r, elemsPerToken: undefined })));
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(3)} GiB`;
  out(
    [
      `${r.name}: context ${r.context}, batch ${r.batch}, KV ${r.kvDtype}, ${r.attention}${r.kvHeads ? ` (${r.kvHeads} KV heads)` : ''}`,
      `  per token      ${r.bytesPerToken.toLocaleString('en')} bytes (all layers)`,
      `  KV cache       ${r.cacheBytes.toLocaleString('en')} bytes = ${gib(r.cacheBytes)}${r.scaleBytes ? ` (scales ${gib(r.scaleBytes)})` : ''}${r.fragmentationBytes ? ` (paged fragmentation ${gib(r.fragmentationBytes)})` : ''}`,
      `  weights        ${gib(r.weightsBytes)} (${r.params.toLocaleString('en')} parameters${r.paramsEstimated ? ', estimated' : ''})`,
      `  total          ${gib(r.totalBytes)}${r.gpuMemoryBytes ? ` of ${gib(r.gpuMemoryBytes)}: ${r.fits ? 'fits' : 'does not fit'}; largest context that fits ${r.maxContextThatFits!.toLocaleString('en')}` : ''}`,
      ...r.warnings.map((w) => `  warning: ${w}`),
    ].join('\n'),
  );
}

/** The engine's own cache: predicted from the config, and the bytes the backend allocated (its arrays or buffers). */
async function engineKv(p: string, values: Record<string, string | boolean | undefined>, out: Out, openBackend: OpenBackend): Promise<void> {
  const context = count(values.context as string | undefined, 'context');
  if (context === undefined) throw new KvUsageError('kv --model needs --context N (the cache capacity in tokens)');
  const backendId = oneOf<'cpu' | 'webgpu'>(values.backend as string | undefined, 'backend', ['cpu', 'webgpu']) ?? 'cpu';
  const dtype = (values['kv-dtype'] as string | undefined) ?? 'f32';
  if (dtype !== 'f32' && dtype !== 'int8')
    throw new KvUsageError(`--kv-dtype ${dtype}: the engine's KV cache is f32 or int8 (on both backends); for other dtypes use the what-ifs (kv --config)`);
  const m = await openModel(p);
  const c = m.loaded.config;
  const predicted = predictEngineKv(c, context, backendId, dtype);
  const backend = await openBackend(backendId, m.loaded, context, dtype);
  let perLayer: number[];
  let memory: unknown;
  try {
    perLayer = backend.kvCache().map((r) => r.allocated);
    const withMemory = backend as Backend & { memory?: () => unknown };
    memory = withMemory.memory?.();
  } finally {
    backend.dispose();
  }
  const allocated = perLayer.reduce((a, b) => a + b, 0);
  const result = {
    bytes_per_token: predicted.bytesPerToken,
    predicted_bytes: predicted.total,
    allocated_bytes: allocated,
    per_layer_bytes: perLayer,
    predicted_per_layer_bytes: predicted.perLayer,
    context,
    backend: backendId,
    kv_dtype: dtype,
    layout: `${
      dtype === 'int8'
        ? `int8 K and V of [${context}, ${c.numKvHeads}, ${c.headDim}]${backendId === 'webgpu' ? ' (4 per u32 word)' : ''} and f32 scales of [${context}, ${c.numKvHeads}] each per layer`
        : `f32 K and V of [${context}, ${c.numKvHeads}, ${c.headDim}] per layer`
    }${c.slidingWindow ? '; sliding-window layers hold the full context (the window masks attention; no ring)' : ''}`,
    ...(memory ? { gpu_buffers: snake(memory as Record<string, unknown>) } : {}),
  };
  if (values.json) return out(JSON.stringify(result));
  out(
    [
      `${p}: KV cache for ${context} tokens on ${backendId}`,
      `  per token   ${result.bytes_per_token.toLocaleString('en')} bytes`,
      `  predicted   ${result.predicted_bytes.toLocaleString('en')} bytes`,
      `  allocated   ${result.allocated_bytes.toLocaleString('en')} bytes${allocated === predicted.total ? ' (equal)' : ' (DIFFERENT)'}`,
      `  per layer   ${perLayer.map((b) => b.toLocaleString('en')).join(', ')}`,
      `  layout      ${result.layout}`,
    ].join('\n'),
  );
}
