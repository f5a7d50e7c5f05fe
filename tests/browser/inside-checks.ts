/**
 * The Inside panel's worker requests on a device backend, environment-neutral (called by
 * gpu-checks.ts for every tiny HF model): attention tiles recomputed from the captured
 * queries and keys vs the HF attentions, the logit lens vs the internals reference, and for
 * MoE the router logits and chosen experts.
 */
import type { Backend } from '../../engine/backend/contract';
import { lensWeights, logitLens } from '../../engine/model/logit-lens';
import type { LoadedModel } from '../../engine/model/types';
import type { WorkerToWebview } from '../../engine/protocol/index';
import type { InsideWorkerRequest } from '../../engine/protocol/inside';
import { InsideSession } from '../../engine/worker/inside';
import { maxAbsDiff } from '../max-abs-diff';

type Read = (rel: string) => Promise<Uint8Array>;
interface Enc {
  shape: number[];
  b64: string;
}

export interface InsideCheck {
  /** max |tile − HF attentions| over every layer and head at full resolution. */
  rowsVsHf: number;
  /** max |lm_head(final_norm(h_l)) from the backend's residuals − the internals reference|. */
  lensVsHf: number;
  routerLogitsVsHf?: number;
  routerExpertsExact?: boolean;
}

function decode(e: Enc): Float32Array {
  const bin = atob(e.b64);
  const b = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) b[i] = bin.charCodeAt(i);
  return new Float32Array(b.buffer);
}

export async function checkInside(backend: Backend, loaded: LoadedModel, read: Read, name: string): Promise<InsideCheck> {
  const json = async (f: string) => JSON.parse(new TextDecoder().decode(await read(f)));
  const ref = (await json(`refs/${name}.shared.json`)) as { cases: { input_ids: number[]; attentions: Enc }[] };
  const internals = (await json(`refs/${name}.internals.shared.json`)) as {
    cases: { input_ids: number[]; logit_lens: Enc; router_logits?: Enc; router_topk_experts?: number[][][] }[];
  };
  const c = loaded.config;
  let last: ((m: WorkerToWebview) => void) | undefined;
  const s = new InsideSession(
    (m) => last?.(m),
    () => ({ backend, lens: lensWeights(c, loaded.weights) }),
  );
  let id = 1;
  const ask = (req: Record<string, unknown>): Promise<WorkerToWebview> =>
    new Promise((resolve) => {
      last = resolve;
      s.handle({ ...req, id: id++ } as InsideWorkerRequest);
    });
  const out: InsideCheck = { rowsVsHf: 0, lensVsHf: 0 };
  for (const rc of ref.cases) {
    const T = rc.input_ids.length;
    const r = await ask({ type: 'insideRun', text: rc.input_ids.join(',') });
    if (r.type !== 'insideReady') throw new Error(`${name}: ${'message' in r ? r.message : r.type}`);
    const att = decode(rc.attentions); // [L, H, T, T]
    for (let l = 0; l < c.numLayers; l++)
      for (let h = 0; h < c.numHeads; h++) {
        const t = await ask({ type: 'insideTile', layer: l, head: h, r0: 0, r1: T, c0: 0, c1: T, rows: T, cols: T });
        if (t.type !== 'insideTileData') throw new Error(`${name}: tile ${l}/${h}: ${'message' in t ? t.message : t.type}`);
        const o = (l * c.numHeads + h) * T * T;
        out.rowsVsHf = Math.max(out.rowsVsHf, maxAbsDiff(t.values, att.subarray(o, o + T * T)));
      }
  }
  // the lens and the router from the backend's own captures
  for (const ic of internals.cases) {
    backend.reset();
    const r = await backend.forward(ic.input_ids, undefined, { capture: { residuals: true, router: true } });
    out.lensVsHf = Math.max(out.lensVsHf, maxAbsDiff(logitLens(c, lensWeights(c, loaded.weights), r.residuals!), decode(ic.logit_lens)));
    if (ic.router_logits && ic.router_topk_experts && r.router) {
      const T = ic.input_ids.length;
      const E = c.moe!.numExperts;
      const all = new Float32Array(r.router.length * T * E);
      r.router.forEach((x, l) => all.set(x.logits!, l * T * E));
      out.routerLogitsVsHf = Math.max(out.routerLogitsVsHf ?? 0, maxAbsDiff(all, decode(ic.router_logits)));
      const got = r.router.map((x) => Array.from({ length: T }, (_, t) => Array.from(x.experts.subarray(t * x.topK, (t + 1) * x.topK))));
      out.routerExpertsExact = (out.routerExpertsExact ?? true) && JSON.stringify(got) === JSON.stringify(ic.router_topk_experts);
    }
  }
  backend.reset();
  return out;
}
