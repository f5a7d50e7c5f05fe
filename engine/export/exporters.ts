/** The exporter of each format: the one table the CLI and the extension dispatch on. */
import { exportGguf } from './gguf-export';
import { exportSafetensors } from './hf-export';
import { exportOnnxFolder } from './onnx-export';
import type { ExportDtype, ExportFormat, ExportOptions, ExportResult, ExportSource } from './types';

export type Exporter = (src: ExportSource, opts: ExportOptions) => ExportResult;

export const EXPORTERS: Record<ExportFormat, Exporter> = {
  gguf: exportGguf,
  safetensors: exportSafetensors,
  onnx: exportOnnxFolder,
};

/** The dtypes each format writes. */
export const EXPORT_FORMAT_DTYPES: Record<ExportFormat, readonly ExportDtype[]> = { gguf: ['f32', 'f16', 'q8_0'], safetensors: ['f32', 'f16'], onnx: ['f32'] };

/** 'file': the output path is the file written; 'folder': the files go into the output folder. */
export const EXPORT_TARGET: Record<ExportFormat, 'file' | 'folder'> = { gguf: 'file', safetensors: 'folder', onnx: 'folder' };
