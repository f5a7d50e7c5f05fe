/** A model's vital statistics, for `inspect`, the tree view's tooltip and the details page. */
import { stat, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { RunnableFormatId } from '../formats/ids';
import { kvBytesPerToken } from '../formats/inspect';
import type { OpenedModel } from '../formats/load-node';
import type { ModelConfig } from '../model/types';

export interface ModelDescription {
  path: string;
  format: RunnableFormatId;
  architecture: string;
  parameters: number;
  dtypes: string[];
  fileBytes: number;
  config: ModelConfig;
  kvBytesPerToken: number;
  tokenizer?: { kind: string; source: string; vocabSize: number };
}

async function sizeOnDisk(p: string): Promise<number> {
  const st = await stat(p);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const f of await readdir(p)) {
    if (/\.(safetensors|json)$/.test(f)) total += (await stat(path.join(p, f))).size;
  }
  return total;
}

export async function describeModel(m: OpenedModel): Promise<ModelDescription> {
  let parameters = 0;
  for (const t of m.loaded.weights.values()) parameters += t.data.length;
  const files = m.loaded.source.files.length ? m.loaded.source.files : [m.path];
  let fileBytes = 0;
  for (const f of files) fileBytes += await sizeOnDisk(path.isAbsolute(f) || f.includes(path.sep) ? f : path.join(m.path, f)).catch(() => 0);
  if (fileBytes === 0) fileBytes = await sizeOnDisk(m.path);
  return {
    path: m.path,
    format: m.format,
    architecture: m.loaded.config.architecture,
    parameters,
    dtypes: m.loaded.source.dtypes,
    fileBytes,
    config: m.loaded.config,
    kvBytesPerToken: kvBytesPerToken(m.loaded.config),
    tokenizer: m.tokenizer ? { kind: m.tokenizer.kind, source: m.tokenizerSource ?? '', vocabSize: m.tokenizer.vocabSize } : undefined,
  };
}
