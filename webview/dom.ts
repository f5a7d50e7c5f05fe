/** Tiny DOM helpers shared by the panels. */

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Record<string, string>, ...kids: (Node | string)[]): HTMLElementTagNameMap[K];
export function el(tag: string, attrs?: Record<string, string>, ...kids: (Node | string)[]): HTMLElement;
export function el(tag: string, attrs: Record<string, string> = {}, ...kids: (Node | string)[]): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...kids);
  return e;
}

export function button(label: string, icon: string, onClick: () => void, secondary = true): HTMLElement {
  const b = el('vscode-button', secondary ? { icon, secondary: '' } : { icon }, label);
  b.addEventListener('click', onClick);
  return b;
}

/** A two-column key/value table. */
export function kvTable(rows: [string, string][], id?: string): HTMLElement {
  const body = el('vscode-table-body', { slot: 'body' });
  for (const [k, v] of rows) body.append(el('vscode-table-row', {}, el('vscode-table-cell', {}, k), el('vscode-table-cell', {}, v)));
  return el('vscode-table', { zebra: '', 'bordered-columns': '', columns: '["40%","60%"]', resizable: '', ...(id ? { id } : {}) }, body);
}

export { fmtBytes } from '../engine/catalog/describe';

/**
 * Shows `message` beside a field (its error element, linked by aria-describedby and marked
 * aria-invalid), or clears it when `message` is undefined.
 */
export function setFieldError(input: HTMLElement, error: HTMLElement, message: string | undefined): void {
  error.textContent = message ?? '';
  error.hidden = !message;
  if (message) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
  input.setAttribute('aria-describedby', error.id);
}

/** The element a field's validation message goes in. */
export function fieldError(id: string): HTMLElement {
  const e = el('span', { id, class: 'field-error', role: 'alert' });
  e.hidden = true;
  return e;
}

/** Enables or disables a control (the `disabled` attribute vscode-elements read). */
export function setDisabled(b: HTMLElement, disabled: boolean): void {
  if (disabled) b.setAttribute('disabled', '');
  else b.removeAttribute('disabled');
}

const adopted = new Set<string>();

/**
 * Adds CSS to the document as a constructed stylesheet (document.adoptedStyleSheets), not a
 * <style> element: the webview's CSP allows no inline styles, and constructed sheets are not
 * inline markup (the UI toolkit's components style themselves the same way).
 */
export function adoptStyle(css: string): void {
  if (adopted.has(css)) return; // once per text, however often a panel is built
  adopted.add(css);
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(css);
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
}
