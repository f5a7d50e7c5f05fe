/** The CLI on an ONNX decoder: generate and forward through --backend ort (onnxruntime-web, wasm). */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { decodeArray, fixturePath, loadRef, maxAbsDiff } from '../../tests/unit/fixtures';
import { runCli as run } from './run-cli.test-util';

// The fixture's folder has no config.json: a temp folder pairs the graph with the HF config of the same weights.
const tmp = mkdtempSync(path.join(tmpdir(), 'llmp-cli-ort-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
copyFileSync(fixturePath('onnx/tiny-llama/model.onnx'), path.join(tmp, 'model.onnx'));
copyFileSync(fixturePath('models/tiny-llama/config.json'), path.join(tmp, 'config.json'));
const MODEL = path.join(tmp, 'model.onnx');
const ref = loadRef('tiny-llama.shared');

describe('CLI --backend ort', () => {
  test('generate --ids gives greedy_24 (ort is the default backend for a .onnx)', async () => {
    const c = ref.cases[0];
    for (const flags of [['--backend', 'ort'], []]) {
      const r = await run('generate', '--model', MODEL, '--ids', c.input_ids.join(','), '--max-tokens', '24', '--ignore-eos', '--json', ...flags);
      expect(r.code, r.err).toBe(0);
      expect(JSON.parse(r.out).generated_ids).toEqual(c.greedy_24);
    }
  });

  test('forward: logits in the fixtures format, within 1e-5 of HF', async () => {
    const c = ref.cases[1];
    const r = await run('forward', '--model', MODEL, '--ids', c.input_ids.join(','), '--backend', 'ort', '--json');
    expect(r.code, r.err).toBe(0);
    const got = decodeArray(JSON.parse(r.out).logits);
    const want = decodeArray(c.logits);
    expect(got.shape).toEqual(want.shape);
    expect(maxAbsDiff(got.data, want.data)).toBeLessThan(1e-5);
  });

  test('compare (the decoding lab): greedy equals greedy_24, and beam search runs on the ort backend', async () => {
    const c = ref.cases[0];
    const f = path.join(tmp, 'compare.json');
    writeFileSync(f, JSON.stringify({ model: MODEL, ids: c.input_ids, max_tokens: 24, ignore_eos: true, strategies: [{ name: 'greedy' }, { name: 'beam 2', num_beams: 2 }] }));
    const r = await run('compare', '--config', f);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out) as { results: { name: string; generated_ids?: number[]; sequences?: unknown[] }[] };
    expect(j.results.map((x) => x.name)).toEqual(['greedy', 'beam 2']);
    expect(j.results[0].generated_ids).toEqual(c.greedy_24);
    expect(j.results[1].sequences!.length).toBeGreaterThan(0);
  });

  test('beam search on the ort backend: beam4_12 and its scores', async () => {
    const cases = ref.cases.filter((x) => x.beam4_12);
    expect(cases.length).toBeGreaterThan(0);
    for (const c of cases) {
      const r = await run('generate', '--model', MODEL, '--ids', c.input_ids.join(','), '--max-tokens', '12', '--num-beams', '4', '--num-return-sequences', '4', '--json');
      expect(r.code, r.err).toBe(0);
      const j = JSON.parse(r.out) as { sequences: number[][]; sequence_scores: number[] };
      expect(j.sequences).toEqual(c.beam4_12);
      j.sequence_scores.forEach((s, i) => expect(Math.abs(s - c.beam4_12_scores![i])).toBeLessThanOrEqual(1e-4));
    }
  });

  test('what ort cannot do, and ort on a model of another format, are refused with the reason', async () => {
    const att = await run('forward', '--model', MODEL, '--ids', '1,2', '--attentions', '--json');
    expect(att.code).not.toBe(0);
    expect(att.err).toMatch(/records no attentions/);
    const cpu = await run('generate', '--model', MODEL, '--ids', '1,2', '--backend', 'cpu');
    expect(cpu.code).not.toBe(0);
    expect(cpu.err).toMatch(/an ONNX model runs on --backend ort/);
    const kv = await run('generate', '--model', MODEL, '--ids', '1,2', '--kv-dtype', 'int8');
    expect(kv.err).toMatch(/--kv-dtype int8: the ort backend keeps the graph's own KV cache/);
    const gguf = await run('generate', '--model', fixturePath('gguf/stories260K.gguf'), '--ids', '1', '--backend', 'ort');
    expect(gguf.err).toMatch(/--backend ort runs \.onnx models only/);
  });
});
