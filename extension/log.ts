import * as vscode from 'vscode';

let channel: vscode.LogOutputChannel | undefined;

/** The "LLM Playground" log output channel (created on first use). */
export function log(): vscode.LogOutputChannel {
  channel ??= vscode.window.createOutputChannel('LLM Playground', { log: true });
  return channel;
}
