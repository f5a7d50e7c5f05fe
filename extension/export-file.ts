/**
 * Saves a file a panel exported (the decoding lab's run as JSON / CSV, the Inside tab's
 * heatmap as PNG and its values as CSV / JSON) where the user chooses. The save dialog
 * asks before replacing an existing file; nothing is written when it is cancelled.
 */
import * as vscode from 'vscode';
import type { RequestOf } from '../engine/protocol/index';
import { log } from './log';

const FILTERS: Record<RequestOf<'exportFile'>['format'], Record<string, string[]>> = { json: { JSON: ['json'] }, csv: { CSV: ['csv'] }, png: { 'PNG image': ['png'] } };

/** The bytes a request's content stands for: the text as UTF-8, a PNG's base64 decoded. */
export function exportBytes(msg: Pick<RequestOf<'exportFile'>, 'format' | 'content'>): Uint8Array {
  return msg.format === 'png' ? new Uint8Array(Buffer.from(msg.content, 'base64')) : new TextEncoder().encode(msg.content);
}

export async function exportFile(msg: RequestOf<'exportFile'>): Promise<string | null> {
  const base = vscode.workspace.workspaceFolders?.[0]?.uri;
  const uri = await vscode.window.showSaveDialog({
    defaultUri: base ? vscode.Uri.joinPath(base, msg.suggestedName) : undefined,
    filters: FILTERS[msg.format],
    saveLabel: `Save ${msg.format.toUpperCase()}`,
    title: msg.title,
  });
  if (!uri) return null;
  await vscode.workspace.fs.writeFile(uri, exportBytes(msg));
  log().info(`Saved ${msg.title.toLowerCase()} to ${uri.fsPath}`);
  return uri.fsPath;
}
