/**
 * What the Inside tab exports: the heatmap tile the worker answers (InsideSession on the CPU
 * backend, through the webview's validator) written as CSV and JSON, parsed back, equals the
 * tile's values exactly and the reference attentions of refs/tiny-qwen3.shared.json (1e-5).
 */
import { describe, expect, it } from 'vitest';
import { loadHfModelFromPath } from '../../engine/formats/hf-node';
import { CpuBackend } from '../../engine/backend/cpu';
import { parseWorkerMessage, type WorkerToWebview } from '../../engine/protocol/index';
import type { InsideWorkerRequest } from '../../engine/protocol/inside';
import { InsideSession } from '../../engine/worker/inside';
import { decodeArray, fixturePath, loadRef } from './fixtures';
import { dataUrlBase64, exportName, tileCsv, tileJson, type ExportTile } from '../../webview/inside-export';

async function tiles(name: string) {
  const loaded = await loadHfModelFromPath(fixturePath('models', name));
  const backend = new CpuBackend(loaded, { contextLength: 64 });
  let last: ((m: WorkerToWebview) => void) | undefined;
  const s = new InsideSession(
    (m) => last?.(parseWorkerMessage(structuredClone(m))),
    () => ({ backend }),
  );
  let id = 1;
  const ask = (req: Record<string, unknown>): Promise<WorkerToWebview> =>
    new Promise((resolve) => {
      last = resolve;
      s.handle({ ...req, id: id++ } as unknown as InsideWorkerRequest);
    });
  return { ask, config: loaded.config };
}

const piece = (i: number) => `tok"${i}${i === 0 ? '\n' : ''}`;

describe('Inside export', () => {
  it('CSV and JSON of a tile carry the worker’s values exactly (full resolution and pooled)', async () => {
    const { ask, config } = await tiles('tiny-qwen3');
    const c = loadRef('tiny-qwen3.shared').cases[0];
    const T = c.input_ids.length;
    expect((await ask({ type: 'insideRun', text: c.input_ids.join(',') })).type).toBe('insideReady');
    const ref = decodeArray(c.attentions!).data; // [L, H, T, T]
    const H = config.numHeads;
    for (const [head, rows] of [
      [1, T],
      [0, Math.ceil(T / 2)],
      [-1, T],
    ] as const) {
      const m = await ask({ type: 'insideTile', layer: 1, head, r0: 0, r1: T, c0: 0, c1: T, rows, cols: rows });
      if (m.type !== 'insideTileData') throw new Error(JSON.stringify(m));
      const t: ExportTile = m;
      const json = JSON.parse(tileJson(t, piece, 'tiny-qwen3')) as { values: number[][]; layer: number; head: number; rowLabels: string[]; fullResolution: boolean };
      expect([json.layer, json.head, json.fullResolution]).toEqual([1, head, rows === T]);
      expect(json.values.flat()).toEqual(Array.from(t.values));
      const lines = tileCsv(t, piece).trimEnd().split('\n');
      expect(lines.length).toBe(t.rows + 1);
      const csvValues = lines.slice(1).flatMap((l) =>
        l
          .slice(l.lastIndexOf('"') + 2)
          .split(',')
          .map(Number),
      );
      expect(csvValues).toEqual(Array.from(t.values));
      if (rows === T) {
        expect(lines[1].startsWith('"0 tok""0\\n",')).toBe(true);
        // full resolution: the exported values are the reference attentions
        let d = 0;
        for (let r = 0; r < T; r++)
          for (let k = 0; k < T; k++) {
            const want = head >= 0 ? ref[((1 * H + head) * T + r) * T + k] : Array.from({ length: H }, (_, h) => ref[((1 * H + h) * T + r) * T + k]).reduce((a, b) => a + b) / H;
            d = Math.max(d, Math.abs(json.values[r][k] - want));
          }
        expect(d).toBeLessThan(1e-5);
      } else expect(json.rowLabels[0]).toMatch(/^0\.\.1$/);
    }
  });

  it('names files by layer and head; a PNG data URL gives its base64', () => {
    expect(exportName({ layer: 2, head: 3 }, 'png')).toBe('attention-L2-H3.png');
    expect(exportName({ layer: 0, head: -1 }, 'csv')).toBe('attention-L0-mean.csv');
    expect(exportName({ layer: 4, head: -3 }, 'json')).toBe('attention-L4-rollout.json');
    expect(dataUrlBase64('data:image/png;base64,iVBORw0K')).toBe('iVBORw0K');
    expect(() => dataUrlBase64('data:,x')).toThrow(/base64/);
  });
});
