/** decideBackend: the one answer to "which backend runs and why" that the status bar and every tab show. */
import { describe, expect, test } from 'vitest';
import type { EngineEnv } from '../gpu/probe';
import { decideBackend, isSoftwareAdapter } from './backend';
import { parseWebviewMessage } from './index';

const swiftshader: EngineEnv = {
  backend: 'webgpu',
  adapter: { vendor: 'google', architecture: 'swiftshader', device: '', description: 'SwiftShader Device (Subzero)', isFallbackAdapter: true },
  selfTest: { op: 'rmsnorm', maxAbsDiff: 1e-7, ok: true },
};
const hardware: EngineEnv = {
  backend: 'webgpu',
  adapter: { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200', isFallbackAdapter: false },
  selfTest: { op: 'rmsnorm', maxAbsDiff: 1e-7, ok: true },
};
const cpuOnly: EngineEnv = { backend: 'cpu', reason: 'The CPU path was chosen in the settings (llmPlayground.backend = "cpu").' };

describe('decideBackend', () => {
  test('nothing to say before the probe', () => {
    expect(decideBackend({ env: undefined, setting: 'auto' })).toBeUndefined();
  });

  test('SwiftShader: the CPU by default, and the software adapter is named as the reason', () => {
    const d = decideBackend({ env: swiftshader, setting: 'auto' })!;
    expect(d).toMatchObject({ backend: 'cpu', label: 'CPU', adapter: 'google / swiftshader', software: true });
    expect(d.reason).toMatch(/google \/ swiftshader, is a software one \(~150× slower/);
    expect(d.reason).toMatch(/choose WebGPU in the Model tab's "Run on"/);
  });

  test('SwiftShader chosen in "Run on": WebGPU, with the warning', () => {
    const d = decideBackend({ env: swiftshader, setting: 'auto', choice: 'gpu' })!;
    expect(d).toMatchObject({ backend: 'webgpu', label: 'WebGPU (google / swiftshader)', software: true });
    expect(d.reason).toMatch(/chosen in the Model tab.*software WebGPU adapter.*~150× slower/);
  });

  test('the setting "webgpu" picks the adapter even when it is a software one, and says so', () => {
    const d = decideBackend({ env: swiftshader, setting: 'webgpu' })!;
    expect(d.backend).toBe('webgpu');
    expect(d.reason).toMatch(/llmPlayground\.backend is "webgpu".*software/);
  });

  test('a hardware adapter: WebGPU by default; the CPU when chosen', () => {
    expect(decideBackend({ env: hardware, setting: 'auto' })).toMatchObject({ backend: 'webgpu', label: 'WebGPU (nvidia / hopper)', software: false });
    const cpu = decideBackend({ env: hardware, setting: 'auto', choice: 'cpu' })!;
    expect(cpu.backend).toBe('cpu');
    expect(cpu.reason).toMatch(/The CPU was chosen/);
  });

  test('a failed self-test keeps the default on the CPU', () => {
    const d = decideBackend({ env: { ...hardware, selfTest: { op: 'rmsnorm', maxAbsDiff: 3, ok: false } }, setting: 'auto' })!;
    expect(d.backend).toBe('cpu');
    expect(d.reason).toMatch(/self-test \(rmsnorm\) failed/);
  });

  test('llmPlayground.backend = "cpu": the CPU, with the worker\'s reason, whatever "Run on" says', () => {
    for (const choice of [undefined, 'gpu', 'cpu'] as const) {
      expect(decideBackend({ env: cpuOnly, setting: 'cpu', choice })).toEqual({ backend: 'cpu', label: 'CPU', reason: cpuOnly.reason, software: false });
    }
  });

  test('a model loaded on another device than "Run on" now says: what runs is the loaded one, and how to switch', () => {
    const d = decideBackend({ env: hardware, setting: 'auto', choice: 'cpu', loaded: 'gpu' })!;
    expect(d.backend).toBe('webgpu');
    expect(d.reason).toMatch(/loaded on WebGPU.*reload/);
    expect(decideBackend({ env: hardware, setting: 'auto', loaded: 'gpu' })!.reason).toMatch(/hardware WebGPU adapter/);
  });

  test('software adapters are known by name when the browser does not flag them', () => {
    expect(isSoftwareAdapter({ backend: 'webgpu', adapter: { vendor: 'mesa', architecture: '', device: '', description: 'llvmpipe (LLVM 15)', isFallbackAdapter: false } })).toBe(
      true,
    );
    expect(isSoftwareAdapter(hardware)).toBe(false);
    expect(isSoftwareAdapter(cpuOnly)).toBe(false);
  });

  test('the host accepts the decision as a message and rejects a malformed one', () => {
    const decision = decideBackend({ env: swiftshader, setting: 'auto' })!;
    expect(parseWebviewMessage({ type: 'backend', decision })).toEqual({ type: 'backend', decision });
    expect(() => parseWebviewMessage({ type: 'backend', decision: { backend: 'tpu', label: 'x', reason: 'y' } })).toThrow(/decision\.backend/);
  });

  test('a loaded ONNX model names onnxruntime-web and its execution provider; the host keeps it', () => {
    const wasm = decideBackend({ env: cpuOnly, setting: 'auto', loaded: 'cpu', ort: 'wasm' })!;
    expect(wasm).toMatchObject({ backend: 'cpu', label: 'onnxruntime-web (wasm EP)', ort: 'wasm' });
    expect(wasm.reason).toMatch(/ONNX graph: onnxruntime-web runs it on its WebAssembly \(wasm\) execution provider/);
    const gpu = decideBackend({ env: hardware, setting: 'auto', loaded: 'gpu', ort: 'webgpu' })!;
    expect(gpu).toMatchObject({ backend: 'webgpu', label: 'onnxruntime-web (WebGPU EP)', ort: 'webgpu', software: false });
    expect(parseWebviewMessage({ type: 'backend', decision: gpu })).toEqual({ type: 'backend', decision: gpu });
    // before a model is loaded, or for the engine's own models: no ort
    expect(decideBackend({ env: hardware, setting: 'auto', ort: 'webgpu' })!.ort).toBeUndefined();
  });
});
