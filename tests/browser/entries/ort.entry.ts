/**
 * Runs inside the test page (headless chromium): the ort backend (onnxruntime-web) on the
 * tiny-llama ONNX export, on the execution provider asked for, against the HF references.
 *   runOrtChecks(provider) — logits per reference sequence (prefill, then token by token)
 *                            and greedy_24 through the shared generate pipeline.
 * Files are served by the test under /fx/ (fixtures) and /ort/ (onnxruntime-web's wasm).
 */
import { OrtBackend, type OrtExecutionProvider } from '../../../engine/backend/ort';
import { setupOrt } from '../../../engine/backend/ort-env';
import { memoryFolder } from '../../../engine/formats/hf';
import { loadOnnxModel } from '../../../engine/formats/onnx-model';
import { greedy } from '../../../engine/generate/generate';
import { maxAbsDiff } from '../../max-abs-diff';

export interface OrtCheck {
  provider: OrtExecutionProvider;
  label: string;
  /** max |logits − HF| over every sequence: one prefill, and token by token with the cache */
  prefill: number;
  steps: number;
  /** per sequence: greedy_24 equal to HF's */
  greedyEqual: boolean[];
  /** the smallest top-1/top-2 margin of the reference greedy paths */
  minMargin: number;
  /** where the KV cache (the present tensors) was after a decode step */
  cacheLocation?: string;
}

interface RefCase {
  input_ids: number[];
  logits: { shape: number[]; b64: string };
  greedy_24: number[];
  greedy_min_margin: number;
}

function decode(a: { shape: number[]; b64: string }): Float32Array {
  const s = atob(a.b64);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}

const bytes = async (p: string) => new Uint8Array(await (await fetch(p)).arrayBuffer());

async function runOrtChecks(provider: OrtExecutionProvider): Promise<OrtCheck | { error: string }> {
  try {
    setupOrt({ wasmPaths: { wasm: `${location.origin}/ort/ort-wasm-simd-threaded.jsep.wasm` }, numThreads: 1 });
    const folder = memoryFolder('tiny-llama-onnx', {
      'model.onnx': await bytes('/fx/onnx/tiny-llama/model.onnx'),
      'config.json': await bytes('/fx/models/tiny-llama/config.json'),
    });
    const ref = (await (await fetch('/fx/refs/tiny-llama.shared.json')).json()) as { cases: RefCase[] };
    const backend = await OrtBackend.create(await loadOnnxModel(folder, 'model.onnx'), { contextLength: 64, executionProvider: provider });
    const V = backend.config.vocabSize;
    let prefill = 0;
    let steps = 0;
    const greedyEqual: boolean[] = [];
    let minMargin = Infinity;
    let cacheLocation: string | undefined;
    for (const c of ref.cases) {
      const want = decode(c.logits); // [T, V]
      backend.reset();
      prefill = Math.max(prefill, maxAbsDiff((await backend.forward(c.input_ids)).logits, want));
      backend.reset();
      for (const [t, id] of c.input_ids.entries())
        steps = Math.max(steps, maxAbsDiff((await backend.forward([id], undefined, { lastOnly: true })).logits, want.subarray(t * V, (t + 1) * V)));
      cacheLocation = backend.cacheLocation;
      // a truncated cache is sliced (a GPU one read back) before the next step: the last row is the same
      const T = c.input_ids.length;
      backend.truncate(T - 1);
      steps = Math.max(steps, maxAbsDiff((await backend.forward([c.input_ids[T - 1]], undefined, { lastOnly: true })).logits, want.subarray((T - 1) * V)));
      backend.reset();
      const ids = await greedy(backend, c.input_ids, 24);
      greedyEqual.push(ids.length === c.greedy_24.length && ids.every((x, i) => x === c.greedy_24[i]));
      minMargin = Math.min(minMargin, c.greedy_min_margin);
    }
    const label = backend.label;
    backend.dispose();
    return { provider, label, prefill, steps, greedyEqual, minMargin, cacheLocation };
  } catch (e) {
    return { error: e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e) };
  }
}

(globalThis as unknown as { runOrtChecks: typeof runOrtChecks }).runOrtChecks = runOrtChecks;
