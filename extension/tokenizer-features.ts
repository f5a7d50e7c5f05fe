/** Everything of the tokenizer feature, registered by `activate` in one call. */
import * as vscode from 'vscode';
import { registerTokenEditor } from './token-editor';
import { notifyTokenizersChanged, trackTextEditors, trainBpeCommand } from './tokenizer-panel';
import { initTokenizers, onTokenizersChanged } from './tokenizers';

export { setActiveModelTokenizer } from './tokenizers';

export function registerTokenizerFeatures(ctx: vscode.ExtensionContext, openPanel: () => void): vscode.Disposable {
  return vscode.Disposable.from(
    initTokenizers(ctx),
    trackTextEditors(),
    onTokenizersChanged(() => notifyTokenizersChanged()),
    registerTokenEditor(openPanel),
    vscode.commands.registerCommand('llmPlayground.trainBpeTokenizer', (arg?: unknown) => trainBpeCommand(openPanel, arg)),
  );
}
