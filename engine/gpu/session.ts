/**
 * The worker's handle on the GPU: one device, at most one GpuModel on it. The webview
 * (through the worker protocol, built by whoever owns the UI) asks for:
 *   load(loaded, opts)  → the GpuModel (the previous one is freed)
 *   model               → the current GpuModel, or undefined
 *   dispose()           → frees the model and the device
 * Device loss frees the model; `lost` then holds the reason and load() refuses.
 * See GpuModel (gpu-model.ts) for forward / generate / captures / setLora.
 */
import type { LoadedModel, ModelConfig, WeightMap } from '../model/types';
import { GpuError, GpuModel, type GpuModelOptions } from './gpu-model';

export class GpuSession {
  private current?: GpuModel;
  lost?: string;

  constructor(readonly device: GPUDevice) {
    device.lost.then((info) => {
      this.lost = `the WebGPU device was lost (${info.reason}): ${info.message || 'no details'}`;
      this.current?.destroy();
      this.current = undefined;
    });
  }

  get model(): GpuModel | undefined {
    return this.current;
  }

  /** Uploads a model (weights, KV cache, pipelines); frees the previous one first. */
  async load(loaded: LoadedModel | { config: ModelConfig; weights: WeightMap }, opts: GpuModelOptions = {}): Promise<GpuModel> {
    if (this.lost) throw new GpuError(this.lost, 'device-lost');
    this.current?.destroy();
    this.current = undefined;
    this.current = await GpuModel.create(this.device, loaded, opts);
    return this.current;
  }

  dispose(): void {
    this.current?.destroy();
    this.current = undefined;
    this.device.destroy();
  }
}
