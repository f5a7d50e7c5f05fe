/**
 * Node-only: check a model path (file or folder) with its format's header check
 * (the format registry), over file handles. Never reads weights. Never import from browser code.
 */
import { stat } from 'node:fs/promises';
import { nodeModelDir } from '../formats/hf-node';
import { locateModel, whyNotListablePath, type ModelLocation } from '../formats/load-node';
import { formatById, LISTED_PATHS } from '../formats/registry';
import type { ModelCheck } from './inspect';

export { locateModel, nodeModelDir, whyNotListablePath, type ModelLocation };

/** Checks a model path: ready with its statistics, or the problem in words. */
export async function inspectPath(p: string): Promise<ModelCheck & { location?: ModelLocation }> {
  const st = await stat(p).catch(() => null);
  if (!st) return { status: 'error', problem: { kind: 'missing', message: 'Not found on disk', detail: `${p}: no such file or folder` } };
  const loc = await locateModel(p);
  if (!loc) {
    return {
      status: 'error',
      problem: {
        kind: 'format',
        message: 'Not a model file this extension knows',
        detail: `${p}: expected ${LISTED_PATHS}`,
      },
    };
  }
  let check: ModelCheck;
  try {
    check = await formatById(loc.format).inspect(nodeModelDir(loc.root), loc.main);
  } catch (e) {
    check = { status: 'error', problem: { kind: 'io', message: e instanceof Error ? e.message : String(e), detail: String(e) } };
  }
  return { ...check, location: loc };
}
