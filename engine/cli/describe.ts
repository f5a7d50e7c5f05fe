/** A model's vital statistics for `inspect`, from its headers (no weights read). */
import type { RunnableFormatId } from '../formats/ids';
import { readModelHeaderAt } from '../formats/load-node';
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

/** Describes the model at `p` from its headers and its tokenizer (`opts.tokenizer`, else the one that comes with it). */
export async function describeModel(p: string, opts: { tokenizer?: string } = {}): Promise<ModelDescription> {
  const h = await readModelHeaderAt(p, opts);
  return {
    path: h.path,
    format: h.format,
    architecture: h.config.architecture,
    parameters: h.info.parameters,
    dtypes: h.info.dtypes,
    fileBytes: h.info.fileBytes,
    config: h.config,
    kvBytesPerToken: h.info.kvBytesPerToken,
    tokenizer: h.tokenizer ? { kind: h.tokenizer.kind, source: h.tokenizerSource ?? '', vocabSize: h.tokenizer.vocabSize } : undefined,
  };
}
