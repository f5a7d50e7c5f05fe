import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readGguf, readGgufTensorF32 } from '../formats/gguf';
import { loadGgufModel } from '../formats/gguf-model';
import { openModel } from '../formats/load-node';
import { decodeF16, dequantizeQ8_0, encodeF16, quantizeQ8_0 } from '../formats/quant';
import { fileSource } from '../formats/source-node';
import { applyLora } from '../model/lora';
import { Model } from '../model/model';
import type { LoadedModel, WeightMap } from '../model/types';
import { fixturePath, maxAbsDiff } from '../../tests/unit/fixtures';
import { exportGguf, ggufTensorType } from './gguf-export';
import { exportSafetensors, HF_FLOAT_KEYS, hfConfigJson } from './hf-export';
import { openExportSource } from './source-node';
import type { ExportDtype } from './types';
import { withRopeStyle } from './weights';
import { writeExport } from './write-node';
import { GgmlType } from '../formats/quant';
import { ropeInvFreq } from '../ops/rope/rope';

const dir = mkdtempSync(path.join(tmpdir(), 'llmp-export-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HF = ['tiny-llama', 'tiny-llama3-rope', 'tiny-qwen2', 'tiny-qwen3', 'tiny-mistral-swa', 'tiny-mixtral-moe', 'tiny-gpt2'];
const MODELS: [string, string][] = [
  ...HF.map((n) => [n, fixturePath('models', n)] as [string, string]),
  ['stories260K.bin', fixturePath('llama2c', 'stories260K.bin')],
  ['stories260K.gguf', fixturePath('gguf', 'stories260K.gguf')],
];
/** Longer than tiny-mistral-swa's window (6), inside every vocabulary (512). */
const IDS = [1, 17, 254, 33, 89, 400, 7, 7, 301, 5, 128, 64, 9, 200, 511, 3];

/** A model's logits [T, V] for IDS (JS kernel, a copy of the weight map: the model never moves the caller's arrays). */
function logits(m: { config: LoadedModel['config']; weights: WeightMap }, setup?: (model: Model) => void): Float32Array {
  const model = new Model({ config: m.config, weights: new Map(m.weights) }, { contextLength: 32, kernel: 'js' });
  setup?.(model);
  return model.forward(IDS).logits;
}

function expectSameWeights(a: WeightMap, b: WeightMap, map: (x: Float32Array) => Float32Array = (x) => x): void {
  expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
  for (const [name, t] of a) {
    expect(b.get(name)!.shape, name).toEqual(t.shape);
    const want = map(t.data);
    const got = b.get(name)!.data;
    expect(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(want.buffer, want.byteOffset, want.byteLength)), name).toBe(true);
  }
}

/** The original in HF's 'half' RoPE layout: a GGUF llama loaded with its Q/K rows un-permuted, anything else as loaded. */
async function halfLayout(p: string, loaded: LoadedModel): Promise<{ config: LoadedModel['config']; weights: WeightMap }> {
  if (p.endsWith('.gguf')) {
    const src = await fileSource(p);
    try {
      return await loadGgufModel(src, { ropeLayout: 'half' });
    } finally {
      await src.close?.();
    }
  }
  return withRopeStyle(loaded.config, loaded.weights, 'half');
}

describe('safetensors export reloads bit-exactly', () => {
  it.each(MODELS)('%s', async (name, p) => {
    const src = await openExportSource(p);
    const out = path.join(dir, `st-${name}`);
    const files = await writeExport(exportSafetensors(src), out);
    expect(files.map((f) => path.basename(f))).toEqual(expect.arrayContaining(['model.safetensors', 'config.json', 'generation_config.json']));
    const back = (await openModel(out)).loaded;
    // Q/K rows of an 'interleaved' source (llama2.c, GGUF llama) come back permuted to 'half': an exact reordering.
    const want = withRopeStyle(src.loaded.config, src.loaded.weights, 'half');
    expectSameWeights(want.weights, back.weights);
    const { stopTokenIds, eosTokenIds, ...config } = want.config;
    expect({ ...back.config, eosTokenIds: undefined }).toMatchObject({ ...config, eosTokenIds: undefined });
    expect(back.config.eosTokenIds).toEqual(stopTokenIds ?? eosTokenIds);
    // Same weights in the same layout: the same logits, bit for bit (a GGUF llama compared in its 'half' loading).
    expect(maxAbsDiff(logits(back), logits(await halfLayout(p, src.loaded)))).toBe(0);
    if (src.tokenizer) expect(files.map((f) => path.basename(f))).toContain('tokenizer.json');
    // transformers' typed config fields refuse an int where a float goes (router_jitter_noise: 0): floats keep a point
    const text = readFileSync(path.join(out, 'config.json'), 'utf8');
    for (const m of text.matchAll(/"(\w+)": (-?[\d.eE+-]+)/g)) if (HF_FLOAT_KEYS.has(m[1])) expect(m[2], m[1]).toMatch(/[.eE]/);
    if (name === 'tiny-mixtral-moe') expect(text).toContain('"router_jitter_noise": 0.0');
    expect(JSON.parse(text)).toEqual({ ...hfConfigJson(want.config, p), torch_dtype: 'float32' }); // the same values
  });

  it('f16 stores each weight rounded to half precision', async () => {
    const src = await openExportSource(fixturePath('models', 'tiny-qwen3'));
    const out = path.join(dir, 'st-f16');
    await writeExport(exportSafetensors(src, { dtype: 'f16' }), out);
    const back = (await openModel(out)).loaded;
    expectSameWeights(src.loaded.weights, back.weights, (x) => {
      const y = new Float32Array(x.length);
      decodeF16(encodeF16(x), y);
      return y;
    });
    expect(JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8')).torch_dtype).toBe('float16');
  });
});

/** A GGUF export's weights as our loader decodes each type: F32 exact, F16 rounded, Q8_0 quantised. */
function rounded(dtype: ExportDtype, shape: number[]) {
  return (x: Float32Array): Float32Array => {
    const type = ggufTensorType(shape, dtype);
    if (type === GgmlType.F32) return x;
    const y = new Float32Array(x.length);
    if (type === GgmlType.F16) decodeF16(encodeF16(x), y);
    else dequantizeQ8_0(quantizeQ8_0(x), y);
    return y;
  };
}

const GGUF_MODELS = MODELS.filter(([n]) => !['tiny-mistral-swa', 'tiny-mixtral-moe', 'tiny-gpt2'].includes(n));
/**
 * Tolerances on logits against the original f32 model, relative to the largest |logit|. The
 * exact check is on the weights (each equals its F16 rounding or Q8_0 quantisation as the loader
 * decodes it); this bounds what that rounding does to the output. F16 keeps 11 significant bits
 * (error ≤ 2^-11 ≈ 4.9e-4 of each weight); Q8_0 keeps 8 bits per block of 32 (error ≤ 1/254 ≈
 * 3.9e-3 of the block's largest weight). The fixtures' random weights (and random norm gains)
 * amplify these through the layers: measured up to 1.5e-3 (F16) and 4.5e-2 (Q8_0) here, the
 * bounds are 8× and 20× the per-weight figure.
 */
const REL_TOL: Record<ExportDtype, number> = { f32: 0, f16: 4e-3, q8_0: 8e-2 };

describe('GGUF export reloads in the engine', () => {
  const cases = GGUF_MODELS.flatMap(([n, p]) => (['f32', 'f16', 'q8_0'] as ExportDtype[]).map((d) => [n, p, d] as [string, string, ExportDtype]));
  it.each(cases)('%s %s', async (name, p, dtype) => {
    const src = await openExportSource(p);
    const file = path.join(dir, `${name}.${dtype}.gguf`);
    await writeExport(exportGguf(src, { dtype }), file);
    // Loaded back in the source's own RoPE layout, the weights are the originals (F32) or their rounding.
    const style = src.loaded.config.rope!.style;
    const fsrc = await fileSource(file);
    const back = await loadGgufModel(fsrc, { ropeLayout: style === 'half' ? 'half' : 'as-stored' });
    await fsrc.close?.();
    expect(back.config.rope!.style).toBe(style);
    const shapes = new Map([...src.loaded.weights].map(([k, t]) => [k, t.shape]));
    for (const [k, t] of src.loaded.weights) {
      const want = rounded(dtype, shapes.get(k)!)(t.data);
      expect(maxAbsDiff(back.weights.get(k)!.data, want), k).toBe(0);
    }
    // GGUF stores the norm epsilon as an f32 (llama.cpp reads it so): the reference model gets the same rounding.
    const f32Eps = { ...src.loaded.config, norm: { ...src.loaded.config.norm, eps: Math.fround(src.loaded.config.norm.eps) } };
    const { eosTokenIds: _e, stopTokenIds: _s, bosTokenId: _b, maxPositions: _m, rope, ...config } = f32Eps;
    expect(back.config).toMatchObject(config);
    // Llama-3 scaling comes back from the rope_freqs divisors: a tiny head (4 frequencies) fits several
    // parameter sets, so the check is that the frequencies it gives are the same.
    const freqs = (c: typeof config & { rope?: typeof rope }) =>
      ropeInvFreq({ rotaryDim: c.headDim, theta: c.rope!.theta, scaling: c.rope!.scaling, maxPositions: src.loaded.config.maxPositions });
    expect(Array.from(freqs(back.config))).toEqual(Array.from(freqs({ ...config, rope })));
    expect({ ...back.config.rope, scaling: undefined }).toEqual({ ...rope, scaling: undefined });
    const a = logits({ config: f32Eps, weights: src.loaded.weights });
    const b = logits(back);
    const scale = a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    const rel = maxAbsDiff(a, b) / scale;
    if (dtype !== 'f32') console.log(`${name} ${dtype}: max |Δlogit| / max |logit| = ${rel.toExponential(2)}`);
    expect(rel).toBeLessThanOrEqual(REL_TOL[dtype]);
    // As the registry opens it (llama: 'interleaved', Q/K rows as written): the same model within f32 rounding.
    if (dtype === 'f32') expect(maxAbsDiff(logits((await openModel(file)).loaded), a)).toBeLessThan(1e-5);
  });

  it('embeds a llama2.c vocabulary that tokenizes as the original', async () => {
    const src = await openExportSource(fixturePath('llama2c', 'stories260K.bin'));
    const file = path.join(dir, 'tok.gguf');
    await writeExport(exportGguf(src), file);
    const back = await openModel(file);
    const text = readFileSync(fixturePath('corpus', 'tinyshakespeare.txt'), 'utf8').slice(0, 20_000);
    expect(back.tokenizer!.encodeIds(text)).toEqual(src.tokenizer!.encodeIds(text));
    const ref = await openModel(fixturePath('gguf', 'stories260K.gguf'));
    expect(back.tokenizer!.encodeIds(text)).toEqual(ref.tokenizer!.encodeIds(text));
  });

  it('refuses a sliding window, saying why', async () => {
    const src = await openExportSource(fixturePath('models', 'tiny-mistral-swa'));
    expect(() => exportGguf(src)).toThrow(/llama.cpp's llama architecture has no sliding window: it would attend beyond 6 positions/);
  });

  it.each([
    ['tiny-mixtral-moe', 'llama', ['blk.0.ffn_gate_inp.weight', 'blk.0.ffn_gate_exps.weight', 'blk.0.ffn_up_exps.weight', 'blk.0.ffn_down_exps.weight']],
    ['tiny-gpt2', 'gpt2', ['position_embd.weight', 'blk.0.attn_qkv.weight', 'blk.0.attn_qkv.bias', 'output_norm.bias']],
  ])('writes %s for llama.cpp (architecture %s) and says the engine does not read it back', async (n, arch, names) => {
    const src = await openExportSource(fixturePath('models', n));
    const file = path.join(dir, `${n}.gguf`);
    const r = exportGguf(src, { dtype: 'q8_0' });
    expect(r.notes.join(' ')).toMatch(/for llama\.cpp: the engine does not read it back yet/);
    await writeExport(r, file);
    const f = await readGguf(await fileSource(file));
    expect(f.metadata.get('general.architecture')).toBe(arch);
    for (const name of names) expect(f.tensorsByName.has(name), name).toBe(true);
    // the router and learned positions stay F32 (convert_hf_to_gguf.py), norms too
    for (const t of f.tensors) if (/ffn_gate_inp|position_embd|norm/.test(t.name)) expect(t.typeName, t.name).toBe('F32');
    if (arch === 'llama') {
      // experts stacked [E, out, in]: expert 1's up_proj rows follow expert 0's
      const up = f.tensorsByName.get('blk.0.ffn_up_exps.weight')!;
      expect(up.shape).toEqual([4, 96, 64]);
      const bytes = await readGgufTensorF32(f, up);
      const e1 = src.loaded.weights.get('model.layers.0.mlp.experts.1.up_proj.weight')!.data;
      const got = bytes.subarray(96 * 64, 2 * 96 * 64);
      expect(maxAbsDiff(got, rounded('q8_0', [96, 64])(e1))).toBe(0);
    } else {
      // q, k, v stacked into attn_qkv [3D, D]
      const qkv = await readGgufTensorF32(f, f.tensorsByName.get('blk.1.attn_qkv.weight')!);
      const k = src.loaded.weights.get('model.layers.1.self_attn.k_proj.weight')!.data;
      expect(maxAbsDiff(qkv.subarray(64 * 64, 2 * 64 * 64), rounded('q8_0', [64, 64])(k))).toBe(0);
    }
    await f.source.close?.();
  });
});

describe('LoRA merged into the export', () => {
  const base = fixturePath('models', 'tiny-llama');
  const adapter = fixturePath('models', 'tiny-llama', 'lora');
  it.each(['safetensors', 'gguf'] as const)('%s equals the engine with the adapter attached', async (format) => {
    const src = await openExportSource(base, { lora: adapter, merge: true });
    const out = path.join(dir, `lora-${format}${format === 'gguf' ? '.gguf' : ''}`);
    await writeExport(format === 'gguf' ? exportGguf(src) : exportSafetensors(src), out);
    const back = (await openModel(out)).loaded;
    const plain = await openExportSource(base);
    const attached = logits(plain.loaded, (m) => applyLora(m, src.lora!));
    const d = maxAbsDiff(logits(back), attached);
    console.log(`tiny-llama + LoRA, ${format} export vs adapter attached: max |Δlogit| ${d.toExponential(2)}`);
    // Merged (W + s·B·A, then x·W) and attached (x·W + s·(x·Aᵀ)·Bᵀ) differ only in f32 rounding order.
    expect(d).toBeLessThan(1e-5);
    expect(maxAbsDiff(logits(back), logits(plain.loaded))).toBeGreaterThan(1e-3); // the adapter did change the model
  });
});
