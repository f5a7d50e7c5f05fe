/** Status-bar item that shows which engine path runs (WebGPU adapter or CPU). */
import * as vscode from 'vscode';
import type { EngineEnv } from '../engine/protocol/index';

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

export function setEnv(env: EngineEnv): void {
  if (!item) return;
  item.text = env.backend === 'webgpu' ? '$(zap) LLM: WebGPU' : '$(chip) LLM: CPU';
  item.tooltip = `LLM Playground engine: ${describeEnv(env)}`;
}
