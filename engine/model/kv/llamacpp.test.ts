import { describe, expect, it } from 'vitest';
import { builtinSpec } from './builtins';
import { checkLlamaCppLines, llamaCppCells, llamaCppMiB, parseLlamaCppKvLog } from './llamacpp';
import type { KvSpec } from './spec';
import { kvWhatIf, WhatIfError } from './whatif';

// Lines captured from llama.cpp (node-llama-cpp 3.21.1, CPU) by llamacpp-kv.bench.ts, loading
// the fixture stories260K.gguf and GGUFs generated with the built-ins' attention shapes.
const CAPTURED: Record<string, { spec: () => KvSpec; context: number; ubatch: number; dtype: 'f16' | 'f32' | 'q8_0'; lines: string[] }> = {
  'stories260K at 4096, f16': {
    spec: () => ({
      name: 'stories260K',
      numLayers: 5,
      hiddenSize: 64,
      numHeads: 8,
      numKvHeads: 4,
      headDim: 8,
      intermediateSize: 172,
      vocabSize: 512,
      maxPositions: 2048,
      tieEmbeddings: true,
    }),
    context: 4096,
    ubatch: 512,
    dtype: 'f16',
    lines: ['llama_kv_cache: size =    2.50 MiB (  4096 cells,   5 layers,  1/1 seqs), K (f16):    1.25 MiB, V (f16):    1.25 MiB'],
  },
  'Llama-3.2-1B at 1 (padded to 256), f16': {
    spec: () => builtinSpec('Llama-3.2-1B')!,
    context: 1,
    ubatch: 1,
    dtype: 'f16',
    lines: ['llama_kv_cache: size =    8.00 MiB (   256 cells,  16 layers,  1/1 seqs), K (f16):    4.00 MiB, V (f16):    4.00 MiB'],
  },
  'Llama-3.1-8B at 4096, f16': {
    spec: () => builtinSpec('Llama-3.1-8B')!,
    context: 4096,
    ubatch: 512,
    dtype: 'f16',
    lines: ['llama_kv_cache: size =  512.00 MiB (  4096 cells,  32 layers,  1/1 seqs), K (f16):  256.00 MiB, V (f16):  256.00 MiB'],
  },
  'Qwen3-0.6B at 1000 (padded to 1024), q8_0': {
    spec: () => builtinSpec('Qwen3-0.6B')!,
    context: 1000,
    ubatch: 512,
    dtype: 'q8_0',
    lines: ['llama_kv_cache: size =   59.50 MiB (  1024 cells,  28 layers,  1/1 seqs), K (q8_0):   29.75 MiB, V (q8_0):   29.75 MiB'],
  },
  'Gemma-2-9B at 8192, f16: 21 global layers of 8192 cells, 21 sliding of pad256(4096 + 513)': {
    spec: () => builtinSpec('Gemma-2-9B')!,
    context: 8192,
    ubatch: 513,
    dtype: 'f16',
    lines: [
      'llama_kv_cache_iswa: creating non-SWA KV cache, size = 8192 cells',
      'llama_kv_cache: size = 1344.00 MiB (  8192 cells,  21 layers,  1/1 seqs), K (f16):  672.00 MiB, V (f16):  672.00 MiB',
      'llama_kv_cache_iswa: creating     SWA KV cache, size = 4864 cells',
      'llama_kv_cache: size =  798.00 MiB (  4864 cells,  21 layers,  1/1 seqs), K (f16):  399.00 MiB, V (f16):  399.00 MiB',
    ],
  },
  'Gemma-2-9B at 4700, q8_0': {
    spec: () => builtinSpec('Gemma-2-9B')!,
    context: 4700,
    ubatch: 513,
    dtype: 'q8_0',
    lines: [
      'llama_kv_cache_iswa: creating non-SWA KV cache, size = 4864 cells',
      'llama_kv_cache: size =  423.94 MiB (  4864 cells,  21 layers,  1/1 seqs), K (q8_0):  211.97 MiB, V (q8_0):  211.97 MiB',
      'llama_kv_cache_iswa: creating     SWA KV cache, size = 4864 cells',
      'llama_kv_cache: size =  423.94 MiB (  4864 cells,  21 layers,  1/1 seqs), K (q8_0):  211.97 MiB, V (q8_0):  211.97 MiB',
    ],
  },
  'DeepSeek-V3 (MLA) at 4096, q8_0: one K row of 512 + 64, no V': {
    spec: () => builtinSpec('DeepSeek-V3')!,
    context: 4096,
    ubatch: 512,
    dtype: 'q8_0',
    lines: ['llama_kv_cache: size =  145.83 MiB (  4096 cells,  61 layers,  1/1 seqs), K (q8_0):  145.83 MiB, V (q8_0):    0.00 MiB'],
  },
};

describe("llama.cpp's KV log lines equal the what-ifs for the same hyper-parameters", () => {
  for (const [name, c] of Object.entries(CAPTURED)) {
    it(name, () => {
      const spec = c.spec();
      const parsed = parseLlamaCppKvLog(c.lines);
      expect(parsed.length).toBe(c.lines.filter((l) => l.includes('size =') && !l.includes('creating')).length);
      const cells = llamaCppCells(c.context, spec.slidingWindow, c.ubatch);
      expect(parsed.find((p) => p.kind !== 'swa')!.cells).toBe(cells.full);
      const swa = parsed.find((p) => p.kind === 'swa');
      if (swa) expect(swa.cells).toBe(cells.swa);
      const { checks } = checkLlamaCppLines(spec, parsed, { kvDtype: c.dtype, context: cells.full, swaCells: cells.swa });
      for (const k of checks) {
        expect(k.whatIf.kMiB).toBe(k.line.kMiB);
        expect(k.whatIf.vMiB).toBe(k.line.vMiB);
        expect(k.whatIf.totalMiB).toBe(k.line.totalMiB);
        expect(k.matches).toBe(true);
      }
    });
  }

  it('exact bytes: Llama-3.1-8B at 4096 f16 is 32 layers · 4096 cells · 8 heads · 128 · 2 bytes for K and again for V', () => {
    const [line] = parseLlamaCppKvLog(CAPTURED['Llama-3.1-8B at 4096, f16'].lines);
    const { checks } = checkLlamaCppLines(builtinSpec('Llama-3.1-8B')!, [line], { kvDtype: 'f16', context: 4096 });
    expect(checks[0].whatIf.kBytes).toBe(32 * 4096 * 8 * 128 * 2);
    expect(checks[0].exact).toBe(true);
  });

  it('q8_0 is 34 bytes per 32 values: DeepSeek-V3 caches 18 blocks a token and layer', () => {
    const r = kvWhatIf(builtinSpec('DeepSeek-V3')!, { context: 4096, kvDtype: 'q8_0' });
    expect(r.bytesPerToken).toBe(61 * 18 * 34);
    expect(r.perLayerKBytes[0]).toBe(r.perLayerBytes[0]);
    expect(kvWhatIf(builtinSpec('Llama-3.1-8B')!, { context: 1, kvDtype: 'q8_0' }).bytesPerToken).toBe(32 * 2 * 8 * (128 / 32) * 34);
  });

  it('q8_0 on a head width that is not a multiple of 32 is refused, as llama.cpp refuses it', () => {
    const spec = CAPTURED['stories260K at 4096, f16'].spec();
    expect(() => kvWhatIf(spec, { context: 8, kvDtype: 'q8_0' })).toThrow(WhatIfError);
    expect(() => kvWhatIf(spec, { context: 8, kvDtype: 'q8_0' })).toThrow(/multiple of 32/);
  });

  it("Mistral-7B-v0.1: llama.cpp caches all 8192 positions (its 'llama' has no window); the what-if's ring of 4096 is half", () => {
    const [line] = parseLlamaCppKvLog(['llama_kv_cache: size = 1024.00 MiB (  8192 cells,  32 layers,  1/1 seqs), K (f16):  512.00 MiB, V (f16):  512.00 MiB']);
    const spec = builtinSpec('Mistral-7B-v0.1')!;
    expect(checkLlamaCppLines(spec, [line], { kvDtype: 'f16', context: 8192 }).checks[0].matches).toBe(true);
    expect(kvWhatIf(spec, { context: 8192 }).cacheBytes).toBe(512 * 2 ** 20);
  });
});

describe('llama.cpp arithmetic', () => {
  it('prints MiB as %.2f of a float, exact ties to even', () => {
    expect(llamaCppMiB(0)).toBe('0.00');
    expect(llamaCppMiB(81920)).toBe('0.08');
    expect(llamaCppMiB(2 ** 20 / 8)).toBe('0.12'); // 0.125: a tie, to even
    expect(llamaCppMiB((3 * 2 ** 20) / 8)).toBe('0.38'); // 0.375: to even
    expect(llamaCppMiB(1344 * 2 ** 20)).toBe('1344.00');
    expect(llamaCppMiB(Math.round(211.97 * 2 ** 20))).toBe('211.97');
  });

  it('pads the context to 256 and sizes the SWA cache as the window plus the micro-batch, padded, at most the context', () => {
    expect(llamaCppCells(1, undefined, 512)).toEqual({ full: 256 });
    expect(llamaCppCells(1000, undefined, 512)).toEqual({ full: 1024 });
    expect(llamaCppCells(8192, 4096, 513)).toEqual({ full: 8192, swa: 4864 });
    expect(llamaCppCells(4096, 4096, 513)).toEqual({ full: 4096, swa: 4096 });
    expect(llamaCppCells(8192, 4096, 256)).toEqual({ full: 8192, swa: 4352 });
  });

  it('reads only the size lines, tagging the iswa pair', () => {
    const p = parseLlamaCppKvLog([
      ...CAPTURED['Gemma-2-9B at 8192, f16: 21 global layers of 8192 cells, 21 sliding of pad256(4096 + 513)'].lines,
      'llama_kv_cache:        CPU KV buffer size =   798.00 MiB',
    ]);
    expect(p.map((x) => [x.kind, x.cells, x.layers, x.kType])).toEqual([
      ['non-swa', 8192, 21, 'f16'],
      ['swa', 4864, 21, 'f16'],
    ]);
  });
});
