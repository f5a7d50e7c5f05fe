/**
 * The worker's GPU load (ModelSession) through Dawn in Node (SwiftShader without a GPU), its
 * files read through the range bridge as the webview serves them: the weights are uploaded
 * from their file by ranges (progress in phase "uploading weights to the GPU"), the load is
 * reported on the GPU, and a cancel mid-upload ends in loadFailed (cancelled).
 * Skipped where no WebGPU device opens.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openNodeGpu } from '../gpu/gpu-node';
import type { ModelLoadSpec, WorkerToWebview } from '../protocol/index';
import { ModelSession } from './session';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER)) process.env.VK_ICD_FILENAMES = SWIFTSHADER;
const GGUF = path.resolve(__dirname, '../../../shared/fixtures/gguf/stories260K.gguf');

let device: GPUDevice | undefined;
let why = '';
beforeAll(async () => {
  const g = await openNodeGpu();
  if ('device' in g) device = g.device;
  else why = g.env.reason ?? 'no adapter';
}, 60_000);
afterAll(() => device?.destroy());

const SPEC: ModelLoadSpec = {
  modelId: 'm',
  name: 'stories',
  format: 'gguf',
  files: [{ name: 'stories260K.gguf', size: statSync(GGUF).size, role: 'weights' }],
  weights: 'stories260K.gguf',
  tokenizer: 'embedded',
};

/** A session whose range reads are served from the fixture; `onMsg` sees every message. */
function session(onMsg: (m: WorkerToWebview, s: ModelSession) => void): ModelSession {
  const bytes = readFileSync(GGUF);
  const s: ModelSession = new ModelSession((m) => {
    if (m.type === 'readRange') setTimeout(() => s.handle({ type: 'rangeData', reqId: m.reqId, bytes: new Uint8Array(bytes.subarray(m.offset, m.offset + m.length)) }), 0);
    onMsg(m, s);
  });
  s.setGpuDevice(device);
  return s;
}

function load(s: ModelSession, device: 'cpu' | 'gpu', id: number, msgs: WorkerToWebview[]): Promise<WorkerToWebview> {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      const end = msgs.find((m) => (m.type === 'loaded' || m.type === 'loadFailed') && m.id === id);
      if (end) {
        clearInterval(timer);
        resolve(end);
      }
    }, 20);
    s.handle({ type: 'loadModel', id, spec: SPEC, contextLength: 64, device, weights: 'f32' });
  });
}

it('loads a GGUF onto the GPU from its file by ranges, with upload progress, and cancels mid-upload', async () => {
  if (!device) return console.warn(`skipped: ${why}`);
  const msgs: WorkerToWebview[] = [];
  const s = session((m) => msgs.push(m));
  const done = await load(s, 'gpu', 1, msgs);
  expect(done.type, JSON.stringify(done)).toBe('loaded');
  const up = msgs.filter((m) => m.type === 'loadProgress' && m.phase === 'uploading weights to the GPU');
  expect(up.length).toBeGreaterThan(0);
  expect(done.type === 'loaded' && done.summary.device).toBe('gpu');

  // cancel once the upload has read a first range
  const msgs2: WorkerToWebview[] = [];
  let asked = false;
  const s2 = session((m, self) => {
    msgs2.push(m);
    if (!asked && m.type === 'loadProgress' && m.phase === 'uploading weights to the GPU') {
      asked = true;
      self.handle({ type: 'cancelLoad', id: 2 });
    }
  });
  const end = await load(s2, 'gpu', 2, msgs2);
  expect(end).toMatchObject({ type: 'loadFailed', cancelled: true });
}, 180_000);
