import * as vscode from 'vscode';
import { log } from './log';
import { openPlaygroundPanel, PANEL_TYPE, PlaygroundPanelSerializer, PlaygroundViewProvider, RETAIN_CONTEXT, VIEW_ID } from './playground';
import { createStatusItem } from './status';
import { onDidChangeActiveModel, registerModels } from './models';
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
    registerTokenizerFeatures(ctx, () => openPlaygroundPanel(ctx)),
    // The active model's tokenizer serves the hover, the status bar and the Tokenizer tab.
    onDidChangeActiveModel((m) => {
      setActiveModelTokenizer(
        m && {
          label: m.name,
          load: async () => {
            const t = await m.tokenizer();
            if (!t) throw new Error(`${m.name} has no tokenizer`);
            return t;
          },
        },
      );
    }),
  );
}

export function deactivate(): void {}
