/**
 * Saves a decoding-lab run the webview exported (JSON or CSV) where the user chooses. The
 * save dialog asks before replacing an existing file; nothing is written when it is cancelled.
 */
import * as vscode from 'vscode';
import type { RequestOf } from '../engine/protocol/index';
import { log } from './log';

export async function exportLabRun(msg: RequestOf<'exportLab'>): Promise<string | null> {
  const base = vscode.workspace.workspaceFolders?.[0]?.uri;
  const uri = await vscode.window.showSaveDialog({
    defaultUri: base ? vscode.Uri.joinPath(base, msg.suggestedName) : undefined,
    filters: msg.format === 'json' ? { JSON: ['json'] } : { CSV: ['csv'] },
    saveLabel: `Save ${msg.format.toUpperCase()}`,
    title: 'Export the decoding lab run',
  });
  if (!uri) return null;
  await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(msg.content));
  log().info(`Saved the decoding lab run to ${uri.fsPath}`);
  return uri.fsPath;
}
