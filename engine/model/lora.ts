/**
 * PEFT LoRA adapters: load an adapter folder (`adapter_config.json` +
 * `adapter_model.safetensors`, keys like
 * `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`), then
 *   applyLora  — unmerged: y += scale · (x·Aᵀ)·Bᵀ beside the frozen weight
 *   mergeLora  — W ← W + scale · B·A (the original array is kept aside)
 *   unloadLora — back to the exact original weights (same arrays)
 * scale = lora_alpha / r (lora_alpha / √r with use_rslora); rank_pattern and
 * alpha_pattern are honoured. Module names are mapped to canonical weights the
 * way the HF loader maps the checkpoint (Mixtral experts, GPT-2's fused c_attn).
 */
import { FormatError, UnsupportedError } from '../errors';
import { hfLinearTargets, readJsonFile, type HfFolder } from '../formats/hf';
import { openSafetensors } from '../formats/safetensors';
import { loraMerged } from '../ops/lora/lora';
import type { Linear, LoraSlot, Model } from './model';
import { expectedShapes, shapeText } from './shapes';
import type { ModelConfig, Tensor } from './types';
import { checkPatternSafety, UnsafePatternError } from '../tokenizer/regex-safety';

export interface LoraTarget {
  /** Canonical weight name of the adapted linear layer. */
  canonical: string;
  A: Float32Array; // [r, in]
  B: Float32Array; // [out, r]
  r: number;
  scale: number;
}

export interface LoraAdapter {
  name: string;
  r: number;
  alpha: number;
  useRslora: boolean;
  targetModules: string[];
  targets: LoraTarget[];
  files: string[];
}

type Json = Record<string, unknown>;

/** PEFT's pattern match: the key (a regex) matches the whole module name or a dotted suffix of it. */
function patternValue(pattern: unknown, module: string, file: string, key: string): number | undefined {
  if (pattern === undefined || pattern === null) return undefined;
  if (typeof pattern !== 'object' || Array.isArray(pattern)) throw new FormatError('bad value', { file, key, expected: 'an object of module patterns to numbers' });
  for (const [k, v] of Object.entries(pattern as Json)) {
    let re: RegExp;
    try {
      checkPatternSafety(k);
    } catch (e) {
      if (e instanceof UnsafePatternError)
        throw new FormatError(`unsafe module pattern: ${e.message}`, { file, key: `${key}.${k}`, expected: 'a regular expression without nested or overlapping repetition' });
      throw e;
    }
    try {
      re = new RegExp(`^(.*\\.)?(${k})$`);
    } catch {
      throw new FormatError('bad module pattern', { file, key: `${key}.${k}`, expected: 'a regular expression' });
    }
    if (re.test(module)) {
      if (typeof v !== 'number' || !(v > 0)) throw new FormatError('bad value', { file, key: `${key}.${k}`, expected: 'a number > 0', found: JSON.stringify(v) });
      return v;
    }
  }
  return undefined;
}

/** Reads and checks a PEFT LoRA adapter against the base model's config. */
export async function loadLoraAdapter(folder: HfFolder, config: ModelConfig): Promise<LoraAdapter> {
  const cfgFile = `${folder.name}/adapter_config.json`;
  const raw = await readJsonFile(folder, 'adapter_config.json', true);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new FormatError('adapter config is not a JSON object', { file: cfgFile, expected: 'a JSON object' });
  const ac = raw as Json;
  if (ac.peft_type !== 'LORA')
    throw new UnsupportedError('only LoRA adapters are supported', { file: cfgFile, key: 'peft_type', expected: 'LORA', found: JSON.stringify(ac.peft_type) });
  const r = ac.r;
  if (typeof r !== 'number' || !Number.isSafeInteger(r) || r < 1)
    throw new FormatError(r === undefined ? 'missing key' : 'bad value', { file: cfgFile, key: 'r', expected: 'an integer ≥ 1', found: JSON.stringify(r) });
  const alpha = ac.lora_alpha ?? 8;
  if (typeof alpha !== 'number' || !(alpha > 0)) throw new FormatError('bad value', { file: cfgFile, key: 'lora_alpha', expected: 'a number > 0', found: JSON.stringify(alpha) });
  if (ac.use_rslora !== undefined && ac.use_rslora !== null && typeof ac.use_rslora !== 'boolean')
    throw new FormatError('bad value', { file: cfgFile, key: 'use_rslora', expected: 'true or false', found: JSON.stringify(ac.use_rslora) });
  const useRslora = ac.use_rslora === true;
  if (ac.use_dora === true) throw new UnsupportedError('DoRA adapters are not supported', { file: cfgFile, key: 'use_dora', expected: 'false' });
  if (ac.bias !== undefined && ac.bias !== null && ac.bias !== 'none')
    throw new UnsupportedError('adapter biases are not supported', { file: cfgFile, key: 'bias', expected: '"none"', found: JSON.stringify(ac.bias) });
  if (ac.lora_bias === true) throw new UnsupportedError('adapter biases are not supported', { file: cfgFile, key: 'lora_bias', expected: 'false' });
  if (Array.isArray(ac.modules_to_save) && ac.modules_to_save.length > 0) {
    throw new UnsupportedError('modules_to_save (fully retrained modules) are not supported', { file: cfgFile, key: 'modules_to_save', expected: 'null' });
  }
  const targetModules = Array.isArray(ac.target_modules)
    ? ac.target_modules.filter((x): x is string => typeof x === 'string')
    : typeof ac.target_modules === 'string'
      ? [ac.target_modules]
      : [];

  const src = await folder.open('adapter_model.safetensors');
  if (!src) {
    const bin = await folder.open('adapter_model.bin');
    await bin?.close?.();
    if (bin) throw new UnsupportedError('pickled adapter weights are not supported', { file: `${folder.name}/adapter_model.bin`, expected: 'adapter_model.safetensors' });
    throw new FormatError('file is missing', { file: `${folder.name}/adapter_model.safetensors`, expected: 'the adapter weights' });
  }
  const store = await openSafetensors(src);
  const wfile = store.files[0];
  try {
    // module → {A, B} entry names
    const modules = new Map<string, { A?: string; B?: string }>();
    for (const name of store.entries.keys()) {
      const m = /^base_model\.model\.(.+)\.lora_([AB])(?:\.[^.]+)?\.weight$/.exec(name);
      if (!m)
        throw new UnsupportedError('adapter tensor is not a LoRA A/B matrix', { file: wfile, key: name, expected: 'base_model.model.<module>.lora_A.weight / lora_B.weight' });
      const slot = modules.get(m[1]) ?? {};
      slot[m[2] as 'A' | 'B'] = name;
      modules.set(m[1], slot);
    }
    const shapes = expectedShapes(config);
    const targets: LoraTarget[] = [];
    for (const [module, { A: aName, B: bName }] of modules) {
      if (!aName || !bName) throw new FormatError('LoRA pair is incomplete', { file: wfile, key: module, expected: 'both lora_A and lora_B' });
      const dest = hfLinearTargets(config, module);
      if (!dest) throw new UnsupportedError('adapter targets a module the engine cannot adapt', { file: wfile, key: aName, expected: 'a linear layer of the base model' });
      const rank = patternValue(ac.rank_pattern, module, cfgFile, 'rank_pattern') ?? r;
      const alph = patternValue(ac.alpha_pattern, module, cfgFile, 'alpha_pattern') ?? alpha;
      const inDim = shapes.get(dest[0].canonical)![1];
      const outDim = dest.reduce((n, d) => n + shapes.get(d.canonical)![0], 0);
      const aShape = store.entries.get(aName)!.shape;
      const bShape = store.entries.get(bName)!.shape;
      if (aShape.length !== 2 || aShape[0] !== rank || aShape[1] !== inDim) {
        throw new FormatError('lora_A shape disagrees with the base model', { file: wfile, key: aName, expected: shapeText([rank, inDim]), found: shapeText(aShape) });
      }
      if (bShape.length !== 2 || bShape[0] !== outDim || bShape[1] !== rank) {
        throw new FormatError('lora_B shape disagrees with the base model', { file: wfile, key: bName, expected: shapeText([outDim, rank]), found: shapeText(bShape) });
      }
      const A: Tensor = await store.read(aName); // [r, in]
      const B: Tensor = await store.read(bName); // [out, r]
      const scale = alph / (useRslora ? Math.sqrt(rank) : rank);
      for (const d of dest) {
        const rows = d.rows ?? [0, outDim];
        targets.push({ canonical: d.canonical, A: A.data, B: B.data.slice(rows[0] * rank, rows[1] * rank), r: rank, scale });
      }
    }
    return { name: folder.name, r, alpha, useRslora, targetModules, targets, files: [cfgFile, wfile] };
  } finally {
    await store.close();
  }
}

interface LoraState {
  adapter: LoraAdapter;
  mode: 'unmerged' | 'merged';
  slots: Map<Linear, LoraSlot>;
  originals: Map<Linear, Float32Array>;
}

const states = new WeakMap<Model, LoraState>();

function linearFor(model: Model, t: LoraTarget): Linear {
  const lin = model.getLinear(t.canonical);
  if (!lin) throw new RangeError(`LoRA target ${t.canonical} is not a linear layer of this model`);
  if (lin.in * t.r !== t.A.length || lin.out * t.r !== t.B.length) throw new RangeError(`LoRA target ${t.canonical}: A/B do not fit [${lin.out}, ${lin.in}]`);
  return lin;
}

/** The adapter currently on the model and how, if any. */
export function loraStatus(model: Model): { adapter: LoraAdapter; mode: 'unmerged' | 'merged' } | undefined {
  const s = states.get(model);
  return s && { adapter: s.adapter, mode: s.mode };
}

/** Attaches the adapter unmerged (frozen weights untouched). One adapter at a time. */
export function applyLora(model: Model, adapter: LoraAdapter): void {
  if (states.has(model)) throw new Error('a LoRA adapter is already on this model: unloadLora first');
  const lins = adapter.targets.map((t) => linearFor(model, t));
  const slots = new Map<Linear, LoraSlot>();
  adapter.targets.forEach((t, i) => {
    const slot: LoraSlot = { A: t.A, B: t.B, r: t.r, scale: t.scale };
    lins[i].lora.push(slot);
    slots.set(lins[i], slot);
  });
  states.set(model, { adapter, mode: 'unmerged', slots, originals: new Map() });
}

/** Merges the adapter into the weights (W + scale·B·A), keeping the originals for unloadLora. */
export function mergeLora(model: Model, adapter: LoraAdapter): void {
  const s = states.get(model);
  if (s && !(s.mode === 'unmerged' && s.adapter === adapter)) throw new Error('another LoRA adapter (or a merged one) is on this model: unloadLora first');
  if (s) unloadLora(model);
  const lins = adapter.targets.map((t) => linearFor(model, t));
  const originals = new Map<Linear, Float32Array>();
  adapter.targets.forEach((t, i) => {
    const lin = lins[i];
    if (!originals.has(lin)) originals.set(lin, lin.w);
    lin.w = loraMerged(lin.w, t.A, t.B, lin.out, lin.in, t.r, t.scale);
  });
  states.set(model, { adapter, mode: 'merged', slots: new Map(), originals });
}

/** Removes the adapter: unmerged slots are dropped, merged weights replaced by the exact originals. */
export function unloadLora(model: Model): void {
  const s = states.get(model);
  if (!s) return;
  for (const [lin, slot] of s.slots) lin.lora = lin.lora.filter((x) => x !== slot);
  for (const [lin, w] of s.originals) lin.w = w;
  states.delete(model);
}
