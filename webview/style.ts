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
/* Generate and Model panels */
textarea, input[type=number], select { color: var(--vscode-input-foreground); background: var(--vscode-input-background);
  border: 1px solid var(--vscode-input-border, var(--vscode-widget-border, transparent)); font-family: var(--vscode-font-family);
  font-size: var(--vscode-font-size); padding: 4px 6px; box-sizing: border-box; }
textarea { width: 100%; resize: vertical; display: block; margin: 2px 0 8px; }
input[type=number] { width: 7em; }
textarea:focus, input:focus, select:focus { outline: 1px solid var(--vscode-focusBorder); outline-offset: -1px; }
.field { display: inline-block; margin: 6px 12px 2px 0; }
.row { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 12px; margin: 4px 0; }
#gen-output { white-space: pre-wrap; word-break: break-word; font-family: var(--vscode-editor-font-family); font-size: var(--vscode-editor-font-size);
  background: var(--vscode-textCodeBlock-background, var(--vscode-editor-background)); border: 1px solid var(--vscode-widget-border, transparent);
  padding: 8px; margin: 8px 0 4px; min-height: 3em; }
.gen-prompt-echo { color: var(--vscode-descriptionForeground); }
#gen-text { color: var(--vscode-editor-foreground, var(--vscode-foreground)); }
.empty { border: 1px dashed var(--vscode-widget-border, var(--vscode-descriptionForeground)); padding: 10px 12px; margin: 8px 0; }
ul.models { list-style: none; padding: 0; margin: 4px 0; }
ul.models li { display: flex; align-items: center; justify-content: space-between; gap: 8px; padding: 2px 0; }
.error-text { color: var(--vscode-errorForeground); }
/* Progress bars in theme colours (the browser's default track is bright white in dark themes). */
progress { -webkit-appearance: none; appearance: none; width: 100%; height: 6px; border: 1px solid var(--vscode-widget-border, transparent);
  background: var(--vscode-input-background); color: var(--vscode-progressBar-background); }
progress::-webkit-progress-bar { background: var(--vscode-input-background); }
progress::-webkit-progress-value { background: var(--vscode-progressBar-background); }
progress::-moz-progress-bar { background: var(--vscode-progressBar-background); }
.warning { color: var(--vscode-editorWarning-foreground, var(--vscode-foreground)); }
[hidden] { display: none !important; }
.field-error { color: var(--vscode-errorForeground); margin-left: 4px; }
input[aria-invalid="true"] { border-color: var(--vscode-inputValidation-errorBorder, var(--vscode-errorForeground)); }
.why { color: var(--vscode-descriptionForeground); }
/* Inside panel */
#inside-grid, #inside-heat { display: block; margin: 4px 0; border: 1px solid var(--vscode-widget-border, transparent); }
#inside-heat { cursor: crosshair; }
.inside-scroll { overflow-x: auto; max-width: 100%; }
table.inside-grid { border-collapse: collapse; font-family: var(--vscode-editor-font-family); font-size: 0.9em; }
table.inside-grid th, table.inside-grid td { border: 1px solid var(--vscode-widget-border, var(--vscode-panel-border, transparent)); padding: 1px 4px; white-space: nowrap; }
table.inside-grid th { font-weight: normal; color: var(--vscode-descriptionForeground); cursor: pointer; }
table.inside-grid .sel, table.inside-grid tr.sel th { outline: 2px solid var(--vscode-focusBorder); outline-offset: -2px; }
table.inside-grid td.long { font-style: italic; color: var(--vscode-descriptionForeground); }
#inside-rope-angles { display: block; margin: 4px 0; max-height: 512px; }
table.inside-grid .rank { color: var(--vscode-descriptionForeground); font-size: 0.85em; }
input[type=text] { color: var(--vscode-input-foreground); background: var(--vscode-input-background); border: 1px solid var(--vscode-input-border, var(--vscode-widget-border, transparent)); padding: 3px 6px; }
/* KV cache panel */
.kv-figure { margin: 6px 0; max-width: 640px; }
.kv-chart { border: 1px solid var(--vscode-widget-border, transparent); background: var(--vscode-editor-background); }
/* Cross-check panel */
.xcheck-pairing { border: 1px solid var(--vscode-widget-border, var(--vscode-panel-border, transparent)); padding: 4px 8px 6px; margin: 4px 0 8px; }
.xcheck-pairing legend { color: var(--vscode-descriptionForeground); padding: 0 4px; }
.xcheck-radio { margin-right: 16px; white-space: nowrap; }
input[type=radio] { accent-color: var(--vscode-focusBorder); }
`;
