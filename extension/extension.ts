import * as vscode from 'vscode';
import { log } from './log';
import { openPlaygroundPanel, openPlaygroundTab, PANEL_TYPE, PlaygroundPanelSerializer, PlaygroundViewProvider, RETAIN_CONTEXT, VIEW_ID } from './playground';
import { createStatusItem } from './status';
import { onDidChangeActiveModel, registerModels, useBundledModel } from './models';
import { showTextInPanels } from './tokenizer-panel';

/** The Tokenizer tab's example (the walkthrough's first step): English and Chinese, whose characters are several bytes each. */
export const TOKENIZER_EXAMPLE = 'Language models read tokens, not words.\n语言模型读的是词元，不是字。';
import { setActiveModelTokenizer } from './tokenizers';
import { registerTokenizerFeatures } from './tokenizer-features';

export function activate(ctx: vscode.ExtensionContext): void {
  log().info(`LLM Playground ${ctx.extension.packageJSON.version} activating`);
  ctx.subscriptions.push(
    log(),
    createStatusItem(),
    registerModels(ctx),
    vscode.window.registerWebviewViewProvider(VIEW_ID, new PlaygroundViewProvider(ctx), { webviewOptions: { retainContextWhenHidden: RETAIN_CONTEXT } }),
    vscode.window.registerWebviewPanelSerializer(PANEL_TYPE, new PlaygroundPanelSerializer(ctx)),
    vscode.commands.registerCommand('llmPlayground.openPlayground', () => {
      openPlaygroundPanel(ctx);
    }),
    vscode.commands.registerCommand('llmPlayground.showLog', () => log().show()),
    // The walkthrough's steps (and the palette): open a tab with example input.
    vscode.commands.registerCommand('llmPlayground.openTokenizer', (text?: unknown) => {
      openPlaygroundTab(ctx, 'tokenizer');
      showTextInPanels(typeof text === 'string' && text ? text : TOKENIZER_EXAMPLE);
    }),
    vscode.commands.registerCommand('llmPlayground.openGenerate', async (model?: unknown) => {
      if (model === 'bundled') await useBundledModel();
      openPlaygroundTab(ctx, 'generate');
    }),
    vscode.commands.registerCommand('llmPlayground.openLab', () => {
      openPlaygroundTab(ctx, 'lab');
    }),
    vscode.commands.registerCommand('llmPlayground.openInside', () => openPlaygroundTab(ctx, 'inside')),
    vscode.commands.registerCommand('llmPlayground.openKv', () => openPlaygroundTab(ctx, 'kv')),
    vscode.commands.registerCommand('llmPlayground.openCrossCheck', () => openPlaygroundTab(ctx, 'xcheck')),
    registerTokenizerFeatures(ctx, () => openPlaygroundPanel(ctx)),
    // The active model's tokenizer serves the hover, the status bar and the Tokenizer tab.
    onDidChangeActiveModel((m) => {
      setActiveModelTokenizer(m && { label: m.name, spec: m.tokenizerSpec() });
    }),
  );
}

export function deactivate(): void {}
