/** Status-bar item that shows which engine path runs (WebGPU adapter or CPU). */
import * as vscode from 'vscode';
import type { BackendDecision, EngineEnv } from '../engine/protocol/index';

let item: vscode.StatusBarItem | undefined;

export function createStatusItem(): vscode.StatusBarItem {
  item = vscode.window.createStatusBarItem('llmPlayground.engine', vscode.StatusBarAlignment.Right, 100);
  item.name = 'LLM Playground Engine';
  item.text = '$(hubot) LLM: not started';
  item.tooltip = 'LLM Playground: open the playground to start the engine';
  item.command = 'llmPlayground.openPlayground';
  item.show();
  return item;
}

export function describeEnv(env: EngineEnv): string {
  if (env.backend === 'webgpu') {
    const a = env.adapter;
    const name = [a?.vendor, a?.architecture, a?.description].filter(Boolean).join(' ') || 'unknown adapter';
    return `WebGPU (${name})`;
  }
  return `CPU (${env.reason ?? 'no reason given'})`;
}

/** Shows the webview's answer to "which backend runs and why" (engine/protocol/backend.ts), word for word. */
export function setBackend(d: BackendDecision): void {
  if (!item) return;
  item.text = d.ort ? `${d.ort === 'webgpu' ? '$(zap)' : '$(chip)'} LLM: ${d.label}` : d.backend === 'webgpu' ? '$(zap) LLM: WebGPU' : '$(chip) LLM: CPU';
  item.tooltip = `LLM Playground runs on: ${d.label}. ${d.reason}`;
  item.backgroundColor = d.backend === 'webgpu' && d.software ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
}
