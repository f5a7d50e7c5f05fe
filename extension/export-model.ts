/**
 * LLM Playground: Export Model… — writes a model as GGUF or an HF safetensors folder
 * (engine/export). Choose the format and type, then where: a save dialog (it asks before
 * replacing a file) for a GGUF, a folder for safetensors (asked before replacing files in it).
 * The export runs in a worker thread with progress and Cancel; cancelling leaves no file.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as vscode from 'vscode';
import { EXPORT_FORMAT_DTYPES, EXPORT_TARGET } from '../engine/export/exporters';
import type { ExportDtype, ExportFormat } from '../engine/export/types';
import type { ExportJob, ExportReply } from './export-job';
import { log } from './log';

const FORMAT_ITEMS: { format: ExportFormat; label: string; detail: string }[] = [
  { format: 'gguf', label: 'GGUF', detail: 'one .gguf file for llama.cpp, Ollama, LM Studio (Llama, Mistral without a window, Mixtral, Qwen2, Qwen3, GPT-2)' },
  { format: 'safetensors', label: 'safetensors (Hugging Face folder)', detail: 'model.safetensors, config.json and the tokenizer, for transformers' },
  { format: 'onnx', label: 'ONNX (folder)', detail: 'model.onnx (a decoder with a KV cache, Optimum layout), config.json and the tokenizer, for onnxruntime' },
];

const DTYPE_DETAIL: Record<ExportDtype, string> = {
  f32: '32-bit floats: the weights exactly as the engine holds them',
  f16: '16-bit floats: half the size (norms and biases stay 32-bit in GGUF)',
  q8_0: "8-bit blocks of 32 (llama.cpp's Q8_0): a quarter of the size",
};

/** Runs one export in a worker; resolves with the files written, rejects with the worker's error. */
function runExport(
  workerFile: string,
  job: ExportJob,
  progress: vscode.Progress<{ increment: number; message?: string }>,
  token: vscode.CancellationToken,
): Promise<{ files: string[]; notes: string[] }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(workerFile, { workerData: job });
    let shown = 0;
    const sub = token.onCancellationRequested(() => w.postMessage({ op: 'cancel' }));
    const finish = () => {
      sub.dispose();
      void w.terminate();
    };
    w.on('message', (m: ExportReply) => {
      if (m.type === 'progress') {
        const pct = Math.floor((100 * m.done) / m.total);
        progress.report({ increment: pct - shown, message: `${pct} %` });
        shown = pct;
      } else if (m.type === 'done') {
        finish();
        resolve({ files: m.files, notes: m.notes });
      } else {
        finish();
        reject(m.cancelled ? new vscode.CancellationError() : new Error(m.message));
      }
    });
    w.on('error', (e) => {
      finish();
      reject(e);
    });
  });
}

export async function exportModel(ctx: vscode.ExtensionContext, modelPath: string, modelName: string): Promise<void> {
  const fmt = await vscode.window.showQuickPick(FORMAT_ITEMS, { title: `Export ${modelName}: format` });
  if (!fmt) return;
  const dt = await vscode.window.showQuickPick(
    EXPORT_FORMAT_DTYPES[fmt.format].map((d) => ({ label: d, detail: DTYPE_DETAIL[d] })),
    { title: `Export ${modelName} as ${fmt.label}: weight type` },
  );
  if (!dt) return;
  const base = path.basename(modelPath).replace(/\.(gguf|bin|safetensors)$/i, '');
  const dir = vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(path.dirname(modelPath));
  const target = EXPORT_TARGET[fmt.format];
  const uri = await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.joinPath(dir, target === 'file' ? `${base}.${dt.label}.gguf` : `${base}-${dt.label}`),
    filters: target === 'file' ? { GGUF: ['gguf'] } : undefined,
    saveLabel: 'Export',
    title: target === 'file' ? `Export ${modelName} to` : `Export ${modelName} into the folder`,
  });
  if (!uri) return;
  const out = uri.fsPath;
  // The save dialog has asked about replacing a file; a folder's files are asked about here.
  let force = target === 'file';
  if (target === 'folder') {
    const taken = ['model.safetensors', 'model.onnx', 'model.onnx.data', 'config.json', 'generation_config.json', 'tokenizer.json'].filter((f) => existsSync(path.join(out, f)));
    if (taken.length) {
      const answer = await vscode.window.showWarningMessage(`${out} already holds ${taken.join(', ')}. Replace them?`, { modal: true }, 'Replace');
      if (answer !== 'Replace') return;
      force = true;
    }
  }
  const job: ExportJob = { model: modelPath, format: fmt.format, dtype: dt.label as ExportDtype, out, force };
  const workerFile = vscode.Uri.joinPath(ctx.extensionUri, 'dist', 'export-worker.js').fsPath;
  try {
    const r = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `LLM Playground: exporting ${modelName} as ${fmt.label} ${dt.label}`, cancellable: true },
      (progress, token) => runExport(workerFile, job, progress, token),
    );
    log().info(`Exported ${modelPath} to ${r.files.join(', ')}${r.notes.length ? ` (${r.notes.join('; ')})` : ''}`);
    const msg = `LLM Playground: exported ${modelName} to ${out}.${r.notes.length ? ` ${r.notes.join('. ')}.` : ''}`;
    const pick = await vscode.window.showInformationMessage(msg, 'Reveal');
    if (pick === 'Reveal') await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(r.files[0]));
  } catch (e) {
    if (e instanceof vscode.CancellationError) {
      log().info(`Export of ${modelPath} cancelled; nothing written`);
      return;
    }
    throw e;
  }
}
