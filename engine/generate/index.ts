/** engine/generate: logits processors, samplers, stopping criteria and the one decode loop. */
export * from './generate';
export * from './processors';
export * from './rng';
export * from './samplers';
export * from './stopping';
export * from './options';
export * from './truncation';
export * from './inspect';
export * from './beam';
export * from './speculative';
export * from './chain';
export * from './penalties';
export * from './llamacpp';
export * from './replay';
