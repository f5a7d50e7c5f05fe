/**
 * Hugging Face checkpoints: a folder with `config.json` and `model.safetensors`
 * (or `model.safetensors.index.json` + shards). Maps HF tensor names to the
 * canonical names of `model/types.ts`:
 *   Llama, Qwen2, Qwen3, Mistral: already canonical.
 *   Mixtral: block_sparse_moe.gate → mlp.router; experts.{e}.w1/w3/w2 → gate/up/down_proj.
 *   GPT-2: wte → embed_tokens, wpe → embed_positions, ln_1/ln_2/ln_f → input_layernorm /
 *     post_attention_layernorm / model.norm; Conv1D weights [in, out] are transposed to
 *     [out, in]; attn.c_attn is split into q/k/v, attn.c_proj → o_proj, mlp.c_fc → up_proj,
 *     mlp.c_proj → down_proj.
 * Every tensor's on-disk shape is checked against the config before any tensor is read.
 * Browser-safe: files come through an `HfFolder` (Node: `hf-node.ts`).
 */
import { FormatError, UnsupportedError } from '../errors';
import { fromWhole, materialise, rowLength } from '../model/lazy';
import { checkDeclaredCounts, expectedShapes, sameShape, shapeText, validateShapes, validateWeights } from '../model/shapes';
import type { LazyModel, LazyTensor, LazyWeightMap, LoadedModel, ModelConfig, Tensor } from '../model/types';
import { parseHfConfig } from './hfconfig';
import { decodeToF32, openSafetensors, openShardedSafetensors, SUPPORTED_DTYPES, type SafetensorsDtype, type TensorStore } from './safetensors';
import { blobSource, memorySource, type ByteSource } from './source';
import { checkJsonDepth } from './json-depth';

/** A folder of files, opened by name (null when the file is absent). */
export interface HfFolder {
  /** Display name (path) for errors. */
  readonly name: string;
  open(file: string): Promise<ByteSource | null>;
}

/** A folder held in memory (tests, drag-and-drop). */
export function memoryFolder(name: string, files: Record<string, Uint8Array>): HfFolder {
  return {
    name,
    async open(file) {
      const b = files[file];
      return b ? memorySource(b, `${name}/${file}`) : null;
    },
  };
}

/** A folder from Blobs/Files (browser: an <input webkitdirectory> selection), keyed by file name. */
export function blobFolder(name: string, files: Record<string, Blob>): HfFolder {
  return {
    name,
    async open(file) {
      const b = files[file];
      return b ? blobSource(b, `${name}/${file}`) : null;
    },
  };
}

/** JSON files over this size are refused instead of read (config and index files are small). */
const MAX_JSON_BYTES = 64 * 1024 * 1024;

/** Reads and parses a JSON file of the folder; undefined when absent and not required. */
export async function readJsonFile(folder: HfFolder, file: string, required: boolean): Promise<unknown> {
  const src = await folder.open(file);
  const display = `${folder.name}/${file}`;
  if (!src) {
    if (required) throw new FormatError('file is missing', { file: display, expected: `a ${file} in the model folder` });
    return undefined;
  }
  try {
    if (src.size > MAX_JSON_BYTES)
      throw new FormatError('JSON file is too large', { file: src.name, offset: 0, expected: `at most ${MAX_JSON_BYTES} bytes`, found: `${src.size}` });
    const bytes = await src.read(0, src.size);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new FormatError('not valid UTF-8', { file: src.name, offset: 0, expected: 'UTF-8 JSON' });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new FormatError('not valid JSON', { file: src.name, offset: 0, expected: 'JSON', found: (e as Error).message });
    }
    checkJsonDepth(text, src.name);
    return json;
  } finally {
    await src.close?.();
  }
}

/** Opens the weights: an explicit file, else the index (sharded), else model.safetensors. */
async function openWeights(folder: HfFolder, weightsFile?: string): Promise<TensorStore> {
  const isIndex = (f: string) => f.endsWith('.index.json');
  const openIndex = async (file: string) => {
    const json = await readJsonFile(folder, file, true);
    return openShardedSafetensors(`${folder.name}/${file}`, json, (shard) => folder.open(shard));
  };
  if (weightsFile !== undefined) {
    if (isIndex(weightsFile)) return openIndex(weightsFile);
    const src = await folder.open(weightsFile);
    if (!src) throw new FormatError('file is missing', { file: `${folder.name}/${weightsFile}`, expected: 'a safetensors file' });
    return openWithClose(src);
  }
  const index = await folder.open('model.safetensors.index.json');
  if (index) {
    await index.close?.();
    return openIndex('model.safetensors.index.json');
  }
  const single = await folder.open('model.safetensors');
  if (!single) {
    throw new FormatError('no weights found', { file: folder.name, expected: 'model.safetensors or model.safetensors.index.json' });
  }
  return openWithClose(single);
}

async function openWithClose(src: ByteSource): Promise<TensorStore> {
  try {
    return await openSafetensors(src);
  } catch (e) {
    await src.close?.();
    throw e;
  }
}

/** One HF tensor to read, its expected on-disk shape, and the canonical tensors it becomes. */
interface PlanItem {
  hf: string;
  shape: number[];
  emit: (t: Tensor) => [string, Tensor][];
  /** Stored as the canonical tensor itself (read by row ranges, nothing computed). */
  canonical?: string;
  /** The canonical tensors `emit` makes (when `canonical` is absent). */
  outputs?: string[];
}

const same =
  (canonical: string) =>
  (t: Tensor): [string, Tensor][] => [[canonical, t]];

/** A plan item's mapping for a tensor stored as the canonical one. */
const direct = (canonical: string) => ({ emit: same(canonical), canonical });

/** [rows, cols] → [cols, rows]. */
export function transpose2d(t: Tensor): Tensor {
  const [r, c] = t.shape;
  const out = new Float32Array(r * c); // [c, r]
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = t.data[i * c + j];
  return { shape: [c, r], data: out };
}

/** Splits the rows of a [n·parts, …] tensor (or a vector) into `parts` equal tensors. */
function splitRows(t: Tensor, parts: number): Tensor[] {
  const rows = t.shape[0] / parts;
  const rowSize = t.data.length / t.shape[0];
  return Array.from({ length: parts }, (_, p) => ({
    shape: [rows, ...t.shape.slice(1)],
    data: t.data.slice(p * rows * rowSize, (p + 1) * rows * rowSize),
  }));
}

/** Mixtral's HF name for a canonical MoE tensor (others: unchanged). */
export function mixtralName(canonical: string): string {
  return canonical
    .replace(/\.mlp\.router\.weight$/, '.block_sparse_moe.gate.weight')
    .replace(/\.mlp\.experts\.(\d+)\.gate_proj\./, '.block_sparse_moe.experts.$1.w1.')
    .replace(/\.mlp\.experts\.(\d+)\.up_proj\./, '.block_sparse_moe.experts.$1.w3.')
    .replace(/\.mlp\.experts\.(\d+)\.down_proj\./, '.block_sparse_moe.experts.$1.w2.');
}

function llamaLikePlan(c: ModelConfig): PlanItem[] {
  const plan: PlanItem[] = [];
  for (const [canonical, shape] of expectedShapes(c)) {
    plan.push({ hf: c.architecture === 'mixtral' ? mixtralName(canonical) : canonical, shape, emit: same(canonical), canonical });
  }
  return plan;
}

function gpt2Plan(c: ModelConfig, names: Set<string>): PlanItem[] {
  const p = names.has('transformer.wte.weight') ? 'transformer.' : '';
  const D = c.hiddenSize;
  const I = c.intermediateSize;
  const plan: PlanItem[] = [
    { hf: `${p}wte.weight`, shape: [c.vocabSize, D], ...direct('model.embed_tokens.weight') },
    { hf: `${p}wpe.weight`, shape: [c.maxPositions, D], ...direct('model.embed_positions.weight') },
  ];
  for (let i = 0; i < c.numLayers; i++) {
    const h = `${p}h.${i}.`;
    const m = `model.layers.${i}.`;
    const qkvNames = (kind: string) => (['q', 'k', 'v'] as const).map((n) => `${m}self_attn.${n}_proj.${kind}`);
    const qkv =
      (kind: string) =>
      (t: Tensor): [string, Tensor][] => {
        const parts = splitRows(kind === 'weight' ? transpose2d(t) : t, 3); // [3D, D] → 3 × [D, D]  or [3D] → 3 × [D]
        return (['q', 'k', 'v'] as const).map((n, j) => [`${m}self_attn.${n}_proj.${kind}`, parts[j]]);
      };
    plan.push(
      { hf: `${h}ln_1.weight`, shape: [D], ...direct(`${m}input_layernorm.weight`) },
      { hf: `${h}ln_1.bias`, shape: [D], ...direct(`${m}input_layernorm.bias`) },
      { hf: `${h}attn.c_attn.weight`, shape: [D, 3 * D], emit: qkv('weight'), outputs: qkvNames('weight') },
      { hf: `${h}attn.c_attn.bias`, shape: [3 * D], emit: qkv('bias'), outputs: qkvNames('bias') },
      { hf: `${h}attn.c_proj.weight`, shape: [D, D], emit: (t) => [[`${m}self_attn.o_proj.weight`, transpose2d(t)]], outputs: [`${m}self_attn.o_proj.weight`] },
      { hf: `${h}attn.c_proj.bias`, shape: [D], ...direct(`${m}self_attn.o_proj.bias`) },
      { hf: `${h}ln_2.weight`, shape: [D], ...direct(`${m}post_attention_layernorm.weight`) },
      { hf: `${h}ln_2.bias`, shape: [D], ...direct(`${m}post_attention_layernorm.bias`) },
      { hf: `${h}mlp.c_fc.weight`, shape: [D, I], emit: (t) => [[`${m}mlp.up_proj.weight`, transpose2d(t)]], outputs: [`${m}mlp.up_proj.weight`] },
      { hf: `${h}mlp.c_fc.bias`, shape: [I], ...direct(`${m}mlp.up_proj.bias`) },
      { hf: `${h}mlp.c_proj.weight`, shape: [I, D], emit: (t) => [[`${m}mlp.down_proj.weight`, transpose2d(t)]], outputs: [`${m}mlp.down_proj.weight`] },
      { hf: `${h}mlp.c_proj.bias`, shape: [D], ...direct(`${m}mlp.down_proj.bias`) },
    );
  }
  plan.push({ hf: `${p}ln_f.weight`, shape: [D], ...direct('model.norm.weight') }, { hf: `${p}ln_f.bias`, shape: [D], ...direct('model.norm.bias') });
  if (!c.tieEmbeddings) plan.push({ hf: 'lm_head.weight', shape: [c.vocabSize, D], ...direct('lm_head.weight') });
  return plan;
}

/**
 * Where an HF module (as named in a checkpoint or a PEFT adapter, without
 * `.weight`) lands among the canonical linear weights. GPT-2's fused c_attn maps
 * to three targets, each a slice of the output rows. Undefined: not a linear the
 * engine knows.
 */
export function hfLinearTargets(c: ModelConfig, hfModule: string): { canonical: string; rows?: [number, number] }[] | undefined {
  if (c.architecture === 'gpt2') {
    const m = /^(?:transformer\.)?h\.(\d+)\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)$/.exec(hfModule);
    if (!m) return undefined;
    const l = `model.layers.${m[1]}.`;
    const D = c.hiddenSize;
    switch (m[2]) {
      case 'attn.c_attn':
        return (['q', 'k', 'v'] as const).map((n, j) => ({ canonical: `${l}self_attn.${n}_proj.weight`, rows: [j * D, (j + 1) * D] as [number, number] }));
      case 'attn.c_proj':
        return [{ canonical: `${l}self_attn.o_proj.weight` }];
      case 'mlp.c_fc':
        return [{ canonical: `${l}mlp.up_proj.weight` }];
      default:
        return [{ canonical: `${l}mlp.down_proj.weight` }];
    }
  }
  const shapes = expectedShapes(c);
  for (const canonical of shapes.keys()) {
    // Embeddings and the head are not linear layers of the model (they are looked up / shared).
    if (!canonical.endsWith('.weight') || shapes.get(canonical)!.length !== 2 || !canonical.startsWith('model.layers.')) continue;
    const hf = c.architecture === 'mixtral' ? mixtralName(canonical) : canonical;
    if (`${hfModule}.weight` === hf) return [{ canonical }];
  }
  return undefined;
}

export interface LoadHfOptions {
  /** A specific weights file in the folder (a .safetensors file or an .index.json). */
  weightsFile?: string;
}

/** A stored tensor read by row ranges (F32, F16, BF16; F16 also as its raw half bits). */
function storedTensor(store: TensorStore, hf: string, shape: number[]): LazyTensor {
  const e = store.entries.get(hf)!;
  if (!(SUPPORTED_DTYPES as readonly string[]).includes(e.dtype)) {
    throw new UnsupportedError('tensor dtype is not supported', { file: e.file, offset: e.begin, key: hf, expected: SUPPORTED_DTYPES.join(', '), found: e.dtype });
  }
  const dtype = e.dtype as SafetensorsDtype;
  const row = rowLength(shape);
  const size = dtype === 'F32' ? 4 : 2;
  const bytes = (r0: number, r1: number) => store.readBytes(hf, r0 * row * size, (r1 - r0) * row * size);
  const t: LazyTensor = { shape, dtype, byteSize: e.end - e.begin, rowsF32: async (r0, r1) => decodeToF32(await bytes(r0, r1), dtype, (r1 - r0) * row) };
  if (dtype === 'F16') {
    t.rowsF16 = async (r0, r1) => {
      const b = await bytes(r0, r1);
      return b.byteOffset % 2 === 0 ? new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2) : new Uint16Array(b.slice().buffer);
    };
  }
  return t;
}

/**
 * Opens an HF checkpoint folder without reading its weights: config.json (and
 * generation_config.json), every tensor's shape checked against the config, and each canonical
 * tensor left in the file as a LazyTensor. Tensors stored as named read by row ranges; those
 * the mapping transforms (GPT-2's transposes and q/k/v split) are computed from the stored
 * tensor when first read. close() closes the weights files. Throws FormatError /
 * UnsupportedError naming the file and key for anything malformed or unsupported.
 */
export async function openHfModel(folder: HfFolder, opts: LoadHfOptions = {}): Promise<LazyModel> {
  const config = parseHfConfig(await readJsonFile(folder, 'config.json', true), `${folder.name}/config.json`);
  const gen = await readJsonFile(folder, 'generation_config.json', false);
  if (gen !== undefined) applyGenerationConfig(config, gen, `${folder.name}/generation_config.json`);

  const store = await openWeights(folder, opts.weightsFile);
  try {
    const names = new Set(store.entries.keys());
    checkDeclaredCounts(config, names.size, `${folder.name}/config.json`);
    const plan = config.architecture === 'gpt2' ? gpt2Plan(config, names) : llamaLikePlan(config);
    // Check every shape from the headers before reading any data.
    for (const item of plan) {
      const e = store.entries.get(item.hf);
      if (!e)
        throw new FormatError('tensor is missing', {
          file: store.files.length === 1 ? store.files[0] : folder.name,
          key: item.hf,
          expected: `a tensor of shape ${shapeText(item.shape)}`,
        });
      if (!sameShape(e.shape, item.shape)) {
        throw new FormatError('tensor shape disagrees with config.json', {
          file: e.file,
          offset: e.begin,
          key: item.hf,
          expected: shapeText(item.shape),
          found: shapeText(e.shape),
        });
      }
    }
    const shapes = expectedShapes(config);
    const lazy: LazyWeightMap = new Map();
    const dtypes = new Set<string>();
    let totalBytes = 0;
    for (const item of plan) {
      const e = store.entries.get(item.hf)!;
      dtypes.add(e.dtype);
      totalBytes += e.end - e.begin;
      if (item.canonical !== undefined) {
        lazy.set(item.canonical, storedTensor(store, item.hf, item.shape));
        continue;
      }
      // computed tensors: the stored one is read and mapped once, and dropped when every output has taken its part
      const outs = item.outputs!;
      let emitted: Promise<Map<string, Tensor>> | undefined;
      let left = outs.length;
      const part = async (name: string) => {
        emitted ??= store.read(item.hf).then((t) => new Map(item.emit(t)));
        const m = await emitted;
        if (--left === 0) emitted = undefined;
        return m.get(name)!.data;
      };
      for (const name of outs)
        lazy.set(
          name,
          fromWhole(shapes.get(name)!, e.dtype, (e.end - e.begin) / outs.length, () => part(name)),
        );
    }
    validateShapes(config, lazy, folder.name);
    return { config, lazy, source: { format: 'safetensors', files: store.files.slice(), dtypes: [...dtypes] }, totalBytes, close: () => store.close() };
  } catch (e) {
    await store.close();
    throw e;
  }
}

/**
 * Loads an HF checkpoint folder into the canonical form (openHfModel, every tensor read
 * whole). Throws FormatError / UnsupportedError naming the file and key for anything
 * malformed or unsupported.
 */
export async function loadHfModel(folder: HfFolder, opts: LoadHfOptions = {}): Promise<LoadedModel> {
  const m = await openHfModel(folder, opts);
  try {
    const weights = await materialise(m.lazy);
    validateWeights(m.config, weights, folder.name);
    return { config: m.config, weights, source: m.source };
  } finally {
    await m.close();
  }
}

/** generation_config.json's eos/bos take precedence (it is what HF generate() uses). */
export function applyGenerationConfig(config: ModelConfig, gen: unknown, file: string): void {
  if (typeof gen !== 'object' || gen === null || Array.isArray(gen)) {
    throw new FormatError('generation config is not a JSON object', { file, expected: 'a JSON object' });
  }
  const g = gen as Record<string, unknown>;
  const isId = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  const eos = g.eos_token_id;
  if (eos !== undefined && eos !== null) {
    const list = Array.isArray(eos) ? eos : [eos];
    if (!list.every(isId)) throw new FormatError('bad value', { file, key: 'eos_token_id', expected: 'a token id or a list of token ids', found: JSON.stringify(eos) });
    config.eosTokenIds = list as number[];
  }
  const bos = g.bos_token_id;
  if (bos !== undefined && bos !== null) {
    if (!isId(bos)) throw new FormatError('bad value', { file, key: 'bos_token_id', expected: 'a token id', found: JSON.stringify(bos) });
    config.bosTokenId = bos as number;
  }
}
