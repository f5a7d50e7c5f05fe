/** Runs the RMSNorm WGSL kernel once on a device (tests and the start-up self-test). */
import { rmsnormWgsl } from '../ops/rmsnorm/rmsnorm.wgsl';
import { readBuffer, storageBuffer, uniformBuffer } from './buffers';

export async function rmsnormGpu(
  device: GPUDevice,
  x: Float32Array, // [T, dim]
  weight: Float32Array, // [dim]
  dim: number,
  eps: number,
): Promise<Float32Array> {
  const rows = x.length / dim;
  const module = device.createShaderModule({ code: rmsnormWgsl, label: 'rmsnorm' });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const params = new ArrayBuffer(16);
  new Uint32Array(params, 0, 2).set([dim, rows]);
  new Float32Array(params, 8, 1)[0] = eps;
  const pBuf = uniformBuffer(device, params);
  const xBuf = storageBuffer(device, x);
  const wBuf = storageBuffer(device, weight);
  const yBuf = device.createBuffer({ size: x.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const bind = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [pBuf, xBuf, wBuf, yBuf].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bind);
  pass.dispatchWorkgroups(rows);
  pass.end();
  device.queue.submit([enc.finish()]);
  const out = await readBuffer(device, yBuf, x.byteLength);
  for (const b of [pBuf, xBuf, wBuf, yBuf]) b.destroy();
  return new Float32Array(out);
}
