import { describe, expect, it } from 'vitest';
import { FormatError } from '../../errors';
import { BUILTIN_CONFIGS, builtinSpec } from './builtins';
import { estimateParams, specFromHfConfig } from './spec';
import { GPUS, kvWhatIf, megatronActivationBytes, WhatIfError } from './whatif';

const GiB = 2 ** 30;
const spec = (name: string) => {
  const s = builtinSpec(name);
  if (!s) throw new Error(`no built-in ${name}`);
  return s;
};

describe('what-ifs for the built-in configs, against hand-computed numbers', () => {
  it('Llama-3.1-8B at 128k, f16: 32 layers · 2 · 8 KV heads · 128 · 2 bytes = 128 KiB per token, 16 GiB; MHA 64 GiB; MQA 2 GiB', () => {
    const s = spec('Llama-3.1-8B');
    const r = kvWhatIf(s, { context: 131072, kvDtype: 'f16' });
    expect(r.attention).toBe('gqa');
    expect(r.bytesPerToken).toBe(131072);
    expect(r.cacheBytes).toBe(16 * GiB);
    expect(r.perLayerBytes).toEqual(Array(32).fill(GiB / 2));
    expect(kvWhatIf(s, { context: 131072, attention: 'mha' }).cacheBytes).toBe(64 * GiB);
    expect(kvWhatIf(s, { context: 131072, attention: 'mqa' }).cacheBytes).toBe(2 * GiB);
    expect(kvWhatIf(s, { context: 131072, kvDtype: 'f32' }).cacheBytes).toBe(32 * GiB);
    expect(kvWhatIf(s, { context: 131072, batch: 4 }).cacheBytes).toBe(64 * GiB);
    expect(r.weightsBytes).toBe(8_030_261_248 * 2);
  });

  it('int8 and int4 add one f16 scale per head per token for K and V', () => {
    const s = spec('Llama-3.1-8B');
    // per token and layer: 2·8·128 = 2048 values; 2·8 = 16 scales of 2 bytes
    expect(kvWhatIf(s, { context: 1024, kvDtype: 'int8' }).cacheBytes).toBe(32 * 1024 * (2048 + 32));
    expect(kvWhatIf(s, { context: 1024, kvDtype: 'int4' }).cacheBytes).toBe(32 * 1024 * (1024 + 32));
    expect(kvWhatIf(s, { context: 1024, kvDtype: 'int4' }).scaleBytes).toBe(32 * 1024 * 32);
  });

  it('Gemma-2-9B at 8192: 21 global layers hold 8192 tokens, 21 sliding ones the 4096 window', () => {
    const r = kvWhatIf(spec('Gemma-2-9B'), { context: 8192 });
    expect(r.tokensPerLayer.slice(0, 4)).toEqual([4096, 8192, 4096, 8192]);
    // 2·8·256·2 = 8192 bytes per token and layer
    expect(r.cacheBytes).toBe((21 * 8192 + 21 * 4096) * 8192);
    expect(kvWhatIf(spec('Gemma-2-9B'), { context: 8192, window: 0 }).cacheBytes).toBe(42 * 8192 * 8192);
  });

  it('Mistral-7B-v0.1 at 32k: every layer is a ring of its 4096 window', () => {
    expect(kvWhatIf(spec('Mistral-7B-v0.1'), { context: 32768 }).cacheBytes).toBe(32 * 4096 * 4096);
    expect(kvWhatIf(spec('Mixtral-8x7B'), { context: 32768 }).cacheBytes).toBe(32 * 32768 * 4096);
  });

  it('DeepSeek-V3 with MLA caches 512 + 64 values per token and layer; without MLA 128 heads · (192 + 128)', () => {
    const s = spec('DeepSeek-V3');
    const r = kvWhatIf(s, { context: 131072 });
    expect(r.attention).toBe('mla');
    expect(r.bytesPerToken).toBe(61 * 576 * 2);
    expect(r.cacheBytes).toBe(61 * 576 * 2 * 131072);
    expect(kvWhatIf(s, { context: 131072, attention: 'mha' }).bytesPerToken).toBe(61 * 128 * 320 * 2);
    expect(kvWhatIf(s, { context: 1, kvDtype: 'int8' }).bytesPerToken).toBe(61 * (576 + 2));
  });

  it('Qwen3 and Llama-3.2 per-token bytes', () => {
    expect(kvWhatIf(spec('Qwen3-0.6B'), { context: 1 }).bytesPerToken).toBe(28 * 2 * 8 * 128 * 2);
    expect(kvWhatIf(spec('Qwen3-32B'), { context: 1 }).bytesPerToken).toBe(64 * 2 * 8 * 128 * 2);
    expect(kvWhatIf(spec('Llama-3.2-1B'), { context: 1 }).bytesPerToken).toBe(16 * 2 * 8 * 64 * 2);
    expect(kvWhatIf(spec('Llama-3.1-70B'), { context: 1 }).bytesPerToken).toBe(80 * 2 * 8 * 128 * 2);
  });

  it('paged blocks round each layer up to whole blocks; the rounding is the fragmentation', () => {
    const r = kvWhatIf(spec('Llama-3.2-1B'), { context: 1000, blockSize: 16 });
    const tokenBytes = 2 * 8 * 64 * 2;
    expect(r.cacheBytes).toBe(16 * 1008 * tokenBytes);
    expect(r.fragmentationBytes).toBe(16 * 8 * tokenBytes);
  });

  it('weights beside the cache against a GPU: the largest context that fits', () => {
    const h100 = GPUS.find((g) => g.name.includes('H100'))!.bytes;
    const r = kvWhatIf(spec('Llama-3.1-8B'), { context: 131072, gpuMemoryBytes: h100 });
    expect(r.fits).toBe(true);
    expect(r.maxContextThatFits).toBe(Math.floor((h100 - 8_030_261_248 * 2) / 131072));
    expect(kvWhatIf(spec('Llama-3.1-70B'), { context: 1, gpuMemoryBytes: h100 }).maxContextThatFits).toBe(0);
  });

  it("the built-ins' shapes reproduce the model cards' parameter counts (dense: exactly, but for norms the estimate leaves out)", () => {
    const norms: Record<string, number> = {
      'Qwen3-0.6B': 28 * 2 * 128, // q_norm and k_norm of head_dim per layer
      'Qwen3-8B': 36 * 2 * 128,
      'Qwen3-32B': 64 * 2 * 128,
      'Gemma-2-9B': 42 * 2 * 3584, // post-attention and post-feed-forward norms
    };
    for (const b of BUILTIN_CONFIGS) {
      if (b.name === 'DeepSeek-V3') continue; // 671B is the card's round figure; MLA's projections are estimated
      const s = spec(b.name);
      expect(estimateParams({ ...s, params: undefined }) + (norms[b.name] ?? 0)).toBe(b.params);
    }
  });

  it('every built-in reads as a spec and gives finite numbers at its maximum context', () => {
    for (const b of BUILTIN_CONFIGS) {
      const s = spec(b.name);
      const r = kvWhatIf(s, { context: s.maxPositions });
      expect(Number.isFinite(r.cacheBytes) && r.cacheBytes > 0).toBe(true);
      expect(r.warnings).toEqual([]);
    }
  });
});

describe('bad input', () => {
  it('a pasted config missing a field names the field', () => {
    const c = { ...BUILTIN_CONFIGS[2].config } as Record<string, unknown>;
    delete c.num_hidden_layers;
    expect(() => specFromHfConfig(c, 'pasted')).toThrow(FormatError);
    expect(() => specFromHfConfig(c, 'pasted')).toThrow(/num_hidden_layers/);
    const d = { ...BUILTIN_CONFIGS[2].config } as Record<string, unknown>;
    delete d.vocab_size;
    expect(() => specFromHfConfig(d, 'pasted')).toThrow(/vocab_size/);
    expect(() => specFromHfConfig([1, 2], 'pasted')).toThrow(/JSON object/);
    expect(() => specFromHfConfig({ ...BUILTIN_CONFIGS[2].config, num_key_value_heads: 5 }, 'pasted')).toThrow(/num_key_value_heads/);
  });

  it('a config without num_key_value_heads is multi-head attention, as transformers reads it', () => {
    const c = { ...BUILTIN_CONFIGS[2].config } as Record<string, unknown>;
    delete c.num_key_value_heads;
    expect(specFromHfConfig(c).numKvHeads).toBe(32);
  });

  it('context 1e12 gives a number with warnings, quickly', () => {
    const t = Date.now();
    const r = kvWhatIf(spec('Llama-3.1-8B'), { context: 1e12, gpuMemoryBytes: 80 * GiB });
    expect(r.cacheBytes).toBe(131072 * 1e12);
    expect(r.warnings.join(' ')).toMatch(/past the model's 131072 positions/);
    expect(r.warnings.join(' ')).toMatch(/2\^53/);
    expect(r.fits).toBe(false);
    expect(Date.now() - t).toBeLessThan(5000);
    const huge = kvWhatIf(spec('Llama-3.1-70B'), { context: 1e300, batch: 1e300 });
    expect(huge.cacheBytes).toBe(Infinity);
    expect(huge.warnings.join(' ')).toMatch(/overflow/);
  });

  it('out-of-range parameters name the parameter', () => {
    const s = spec('Llama-3.1-8B');
    expect(() => kvWhatIf(s, { context: 0 })).toThrow(WhatIfError);
    expect(() => kvWhatIf(s, { context: 1.5 })).toThrow(/context/);
    expect(() => kvWhatIf(s, { context: NaN })).toThrow(/context/);
    expect(() => kvWhatIf(s, { context: 8, batch: -1 })).toThrow(/batch/);
    expect(() => kvWhatIf(s, { context: 8, attention: 'mla' })).toThrow(/kv_lora_rank/);
    expect(() => kvWhatIf(s, { context: 8, attention: 'gqa', kvHeads: 5 })).toThrow(/kv heads/);
    expect(() => kvWhatIf(s, { context: 8, kvDtype: 'f8' as never })).toThrow(/kv dtype/);
  });
});

describe('Megatron activation memory per layer (Korthikanti et al.)', () => {
  it('sbh(34 + 5as/h) without parallelism; TP t divides all but 10sbh; with SP everything', () => {
    const [s, b, h, a] = [2048, 1, 4096, 32];
    expect(megatronActivationBytes(s, b, h, a)).toBe(s * b * h * (34 + (5 * a * s) / h));
    expect(megatronActivationBytes(s, b, h, a, 8)).toBe(s * b * h * (10 + 24 / 8 + (5 * a * s) / (h * 8)));
    expect(megatronActivationBytes(s, b, h, a, 8, true)).toBe(((s * b * h) / 8) * (34 + (5 * a * s) / h));
  });
});
