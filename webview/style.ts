/** Styles: only VS Code theme variables, so light, dark and high contrast all work. */
export const STYLE = `
body { color: var(--vscode-foreground); background: var(--vscode-sideBar-background, var(--vscode-editor-background));
  font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); padding: 0 12px 16px; }
h1 { font-size: 1.3em; font-weight: 600; margin: 12px 0 8px; }
h2 { font-size: 1.05em; font-weight: 600; margin: 16px 0 6px; text-transform: none; }
.muted { color: var(--vscode-descriptionForeground); }
.error { color: var(--vscode-errorForeground); border: 1px solid var(--vscode-inputValidation-errorBorder, var(--vscode-errorForeground));
  background: var(--vscode-inputValidation-errorBackground, transparent); padding: 6px 8px; margin: 6px 0; white-space: pre-wrap; }
vscode-table { margin-top: 6px; }
vscode-button { margin: 4px 6px 4px 0; }
vscode-progress-ring { width: 14px; height: 14px; vertical-align: middle; }
:focus-visible { outline: 1px solid var(--vscode-focusBorder); outline-offset: 1px; }
body.vscode-high-contrast .error { border-width: 2px; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
vscode-tab-panel { padding: 4px 2px; }
`;
