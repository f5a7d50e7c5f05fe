/**
 * The Tokenizer panel: text in, tokens out (coloured, with ids) for up to three tokenizers side
 * by side, differences marked; details of a token on hover / focus (arrow keys move); counts.
 * Below it, the BPE trainer: train on Shakespeare, the open file or a folder, watch the merges,
 * export tokenizer.json. Tokenizing and training run in the extension host (extension/tokenizer-panel.ts).
 */
import type { BpeMergeView, BpeSource, HostToWebview, TokenizeResultEntry, TokenizerInfo, TokenView } from '../../engine/protocol/index';
import { adoptStyle, el, fieldError, setFieldError } from '../dom';
import { getState, onHostMessage, request, setState } from '../host';
import type { Panel } from './panel';
import { visibleText } from '../../engine/tokenizer/visible';
import { checkInt } from '../validate';

interface SavedState {
  text: string;
  selected: string[];
}

const MAX_DRAWN = 5000;
const NONE = '';
let saved: SavedState = getState<SavedState>('tokenizerPanel') ?? { text: 'Hello world! 你好，世界 🌍\nfor (let i = 0; i < 10; i++) {}', selected: [] };
let tokenizers: TokenizerInfo[] = [];
let root: HTMLElement | undefined;
let textArea: HTMLTextAreaElement;
let selects: HTMLSelectElement[] = [];
let resultsBox: HTMLElement;
let detail: HTMLElement;
let statusLine: HTMLElement;
let timer: number | undefined;
let seq = 0;

function save(): void {
  setState('tokenizerPanel', saved);
}

function selectTab(): void {
  const tabs = document.getElementById('tabs') as (HTMLElement & { selectedIndex?: number }) | null;
  const headers = tabs ? Array.from(tabs.querySelectorAll('vscode-tab-header')) : [];
  const i = headers.findIndex((h) => h.getAttribute('data-tab') === 'tokenizer');
  if (tabs && i >= 0) {
    tabs.selectedIndex = i;
    tabs.setAttribute('selected-index', String(i));
    setState('tab', 'tokenizer');
  }
}

function fillSelects(): void {
  const defaults = [saved.selected[0] ?? 'o200k_base', saved.selected[1] ?? 'active-model', saved.selected[2] ?? NONE];
  selects.forEach((sel, k) => {
    const keep = sel.value || defaults[k]!;
    sel.replaceChildren();
    if (k > 0) sel.append(el('option', { value: NONE }, k === 1 ? '(no comparison)' : '(none)'));
    for (const t of tokenizers) sel.append(el('option', { value: t.id, title: t.description }, t.label));
    sel.value = tokenizers.some((t) => t.id === keep) || keep === NONE ? keep : k === 0 ? (tokenizers[0]?.id ?? '') : NONE;
  });
}

async function refreshList(): Promise<void> {
  try {
    const r = await request({ method: 'tokenizerList' });
    tokenizers = r.tokenizers;
    // Merges kept from before a window reload: the extension no longer holds that tokenizer.
    if (!tokenizers.some((t) => t.id === 'trained') && exportButton && !exportButton.disabled) {
      exportButton.disabled = true;
      exportButton.title = 'The trained tokenizer is gone (the window was reloaded): train again to export it.';
    }
    if (!saved.selected[0]) saved.selected[0] = r.editorTokenizer;
    fillSelects();
    if (r.pendingText !== undefined) setText(r.pendingText);
    else schedule(0);
  } catch (e) {
    statusLine.textContent = `Could not list the tokenizers: ${e instanceof Error ? e.message : String(e)}`;
  }
}

function setText(text: string): void {
  textArea.value = text;
  saved.text = text;
  save();
  selectTab();
  schedule(0);
}

function schedule(ms: number): void {
  if (timer !== undefined) clearTimeout(timer);
  timer = window.setTimeout(() => void tokenize(), ms);
}

async function tokenize(): Promise<void> {
  const text = textArea.value;
  const ids = selects.map((s) => s.value).filter((v) => v !== NONE);
  saved = { text, selected: selects.map((s) => s.value) };
  save();
  if (text.length === 0) {
    resultsBox.replaceChildren(el('p', { class: 'muted', id: 'tok-empty' }, 'Type or paste text above to see its tokens.'));
    detail.textContent = '';
    return;
  }
  if (ids.length === 0) return;
  const my = ++seq;
  statusLine.textContent = 'Tokenizing…';
  try {
    const r = await request({ method: 'tokenize', tokenizers: ids, text });
    if (my !== seq) return;
    statusLine.textContent = '';
    draw(text, r.results);
  } catch (e) {
    if (my !== seq) return;
    statusLine.textContent = '';
    resultsBox.replaceChildren(el('div', { class: 'error', role: 'alert' }, `Tokenizing failed: ${e instanceof Error ? e.message : String(e)}`));
  }
}

function boundaries(r: TokenizeResultEntry): Set<number> {
  const s = new Set<number>();
  for (const t of r.tokens) {
    s.add(t.start);
    s.add(t.end);
  }
  return s;
}

/** The text a token stands for: its bytes decoded (the byte-level piece "è¯Ńè¨Ģ" is 语言); a token inside one character names that character. */
function tokenText(t: TokenView, text: string): string {
  if (t.partial) return `part of ${JSON.stringify(text.slice(t.start, t.end))}`;
  const hex = t.bytes.trim();
  const bytes = hex ? Uint8Array.from(hex.split(/\s+/), (h) => parseInt(h, 16)) : new Uint8Array();
  const decoded = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  return JSON.stringify(hex && !decoded.includes('\uFFFD') ? decoded : text.slice(t.start, t.end));
}

function describeToken(t: TokenView, label: string, text: string): string {
  return `${label} · id ${t.id} · piece ${JSON.stringify(t.piece)} · text ${tokenText(t, text)} · bytes [${t.bytes}] · characters ${t.start}–${t.end}${t.special ? ' · special token' : ''}${t.partial ? ' · part of a multi-byte character' : ''}`;
}

function draw(text: string, results: TokenizeResultEntry[]): void {
  const bounds = results.map(boundaries);
  const cols = el('div', { class: 'tok-cols', 'data-count': String(results.length) });
  results.forEach((r, k) => {
    const col = el('section', { class: 'tok-col', 'data-tokenizer': r.tokenizer, 'aria-label': `Tokens of ${r.label}` });
    const c = r.counts;
    col.append(
      el('h3', {}, r.label),
      el(
        'p',
        { class: 'tok-counts', 'data-tokens': String(c.tokens) },
        `${c.tokens.toLocaleString('en-US')} tokens · ${c.characters.toLocaleString('en-US')} characters · ${c.bytes.toLocaleString('en-US')} bytes · ${c.charsPerToken.toFixed(2)} characters/token`,
        el('span', { class: 'muted' }, ` · ${r.ms.toFixed(1)} ms`),
      ),
    );
    if (r.error) {
      col.append(el('div', { class: 'error', role: 'alert' }, r.error));
      cols.append(col);
      return;
    }
    const others = bounds.filter((_, j) => j !== k);
    const otherNames = results.filter((_, j) => j !== k).map((o) => o.label);
    const view = el('div', { class: 'tok-view', role: 'listbox', 'aria-label': `${r.label} tokens; arrow keys move between tokens` });
    const shown = r.tokens.slice(0, MAX_DRAWN);
    let palette = 0;
    let diffCount = 0;
    for (let i = 0; i < shown.length;) {
      // a box: tokens that share characters (the bytes of one glyph) draw the glyph once
      let j = i + 1;
      let end = shown[i]!.end;
      while (j < shown.length && shown[j]!.start < end) {
        end = Math.max(end, shown[j]!.end);
        j++;
      }
      const first = shown[i]!;
      const group = shown.slice(i, j);
      const special = group.some((t) => t.special);
      const differs = others.length > 0 && others.some((b) => !b.has(first.start) || !b.has(end));
      if (differs) diffCount += group.length;
      const box = el('span', { class: `tok-box c${palette++ % 4}${special ? ' special' : ''}${differs ? ' diff' : ''}${group.length > 1 ? ' split' : ''}` });
      const shownText = special ? first.piece : visibleText(text.slice(first.start, end));
      box.append(el('span', { class: 'tok-text' }, shownText || '∅'));
      const idRow = el('span', { class: 'tok-ids' });
      for (const t of group) {
        const chip = el(
          'span',
          {
            class: 'tok-id',
            role: 'option',
            tabindex: '-1',
            'aria-selected': 'false',
            'data-id': String(t.id),
            'aria-label': describeToken(t, r.label, text),
            title: describeToken(t, r.label, text),
          },
          String(t.id),
        );
        chip.addEventListener('mouseenter', () => (detail.textContent = describeToken(t, r.label, text)));
        chip.addEventListener('focus', () => {
          detail.textContent = describeToken(t, r.label, text);
          view.querySelectorAll('.tok-id[aria-selected="true"]').forEach((x) => x.setAttribute('aria-selected', 'false'));
          chip.setAttribute('aria-selected', 'true');
        });
        idRow.append(chip);
      }
      box.addEventListener('mouseenter', () => (detail.textContent = group.map((t) => describeToken(t, r.label, text)).join('  |  ')));
      box.append(idRow);
      view.append(box);
      if (text.slice(first.start, end).includes('\n')) view.append(el('br'));
      i = j;
    }
    const chips = () => Array.from(view.querySelectorAll<HTMLElement>('.tok-id'));
    const firstChip = view.querySelector<HTMLElement>('.tok-id');
    if (firstChip) firstChip.tabIndex = 0;
    view.addEventListener('keydown', (ev) => {
      const all = chips();
      const at = all.indexOf(document.activeElement as HTMLElement);
      if (at < 0) return;
      let to = at;
      if (ev.key === 'ArrowRight' || ev.key === 'ArrowDown') to = Math.min(all.length - 1, at + 1);
      else if (ev.key === 'ArrowLeft' || ev.key === 'ArrowUp') to = Math.max(0, at - 1);
      else if (ev.key === 'Home') to = 0;
      else if (ev.key === 'End') to = all.length - 1;
      else return;
      ev.preventDefault();
      all[at]!.tabIndex = -1;
      all[to]!.tabIndex = 0;
      all[to]!.focus();
    });
    col.append(view);
    if (r.truncated || r.tokens.length > shown.length)
      col.append(el('p', { class: 'muted' }, `Showing the first ${shown.length.toLocaleString('en-US')} of ${c.tokens.toLocaleString('en-US')} tokens.`));
    if (others.length > 0)
      col.append(
        el(
          'p',
          { class: 'muted tok-diffs', 'data-diffs': String(diffCount) },
          diffCount ? `${diffCount} tokens (dashed outline) start or end where ${otherNames.join(' or ')} does not.` : `Same boundaries as ${otherNames.join(' and ')}.`,
        ),
      );
    cols.append(col);
  });
  resultsBox.replaceChildren(cols);
}

// ---------------------------------------------------------------- trainer

let trainBox: HTMLElement;
let trainStatus: HTMLElement;
let trainProgress: HTMLProgressElement;
let mergeList: HTMLOListElement;
let trainButton: HTMLButtonElement;
let cancelButton: HTMLButtonElement;
let exportButton: HTMLButtonElement;
let sizeInput: HTMLInputElement;
let runId = -1;

/** The vocabulary-size field's range (the trainer's: the 256 bytes and one special token at least). */
export const VOCAB_RANGE = { label: 'Vocabulary size', min: 257, max: 100_000 };
/**
 * The trainer's result kept in the webview state so it comes back with the webview: the status
 * line, the progress and the merges — at most MAX_SAVED_MERGES of them, the first and the last
 * halves (each ~100 bytes as JSON).
 */
export const MAX_SAVED_MERGES = 1000;
interface SavedBpe {
  runId: number;
  status: string;
  statusClass: string;
  value: number;
  max: number;
  exportable: boolean;
  running: boolean;
  first: BpeMergeView[];
  last: BpeMergeView[];
}
let bpe: SavedBpe | undefined;
let bpeTimer: number | undefined;

function saveBpe(now = false): void {
  if (bpeTimer !== undefined) window.clearTimeout(bpeTimer);
  bpeTimer = undefined;
  const write = () => {
    bpeTimer = undefined;
    if (!bpe) return;
    bpe.status = trainStatus.textContent ?? '';
    bpe.statusClass = trainStatus.className;
    bpe.value = trainProgress.value;
    bpe.max = trainProgress.max;
    bpe.exportable = !exportButton.disabled;
    bpe.running = trainButton.disabled;
    setState('bpe', bpe);
  };
  if (now) write();
  else bpeTimer = window.setTimeout(write, 500);
}

function keepMerges(merges: BpeMergeView[]): void {
  if (!bpe) return;
  const half = MAX_SAVED_MERGES / 2;
  for (const m of merges) {
    if (bpe.first.length < half) bpe.first.push(m);
    else {
      bpe.last.push(m);
      if (bpe.last.length > half) bpe.last.shift();
    }
  }
}

/** Puts back the trainer's last result from the webview state (a run that was going ended with the webview). */
function restoreBpe(): void {
  const b = getState<SavedBpe>('bpe');
  if (!b || !Array.isArray(b.first) || !Array.isArray(b.last)) return;
  bpe = b;
  runId = b.runId;
  trainProgress.max = b.max;
  trainProgress.value = b.value;
  trainStatus.textContent = b.running ? 'Training stopped when the playground was closed or reloaded.' : b.status;
  trainStatus.className = b.statusClass;
  exportButton.disabled = !b.exportable;
  addMerges(b.first);
  addMerges(b.last);
}

function onBpe(msg: Extract<HostToWebview, { type: 'bpeProgress' | 'bpeFinished' }>): void {
  if (msg.type === 'bpeProgress') {
    if (msg.runId !== runId || !bpe) {
      runId = msg.runId;
      clearMerges();
      bpe = { runId, status: '', statusClass: '', value: 0, max: 1, exportable: false, running: true, first: [], last: [] };
      selectTab();
    }
    trainButton.disabled = true;
    cancelButton.disabled = false;
    trainProgress.max = Math.max(1, msg.total);
    trainProgress.value = msg.done;
    trainStatus.textContent =
      msg.phase === 'reading'
        ? 'Reading the input…'
        : msg.phase === 'counting'
          ? `Counting pieces: ${msg.done.toLocaleString('en-US')} of ${msg.total.toLocaleString('en-US')} characters`
          : `Merge ${msg.done.toLocaleString('en-US')} of ${msg.total.toLocaleString('en-US')}`;
    addMerges(msg.merges);
    keepMerges(msg.merges);
    saveBpe();
  } else {
    if (msg.runId !== runId && runId !== -1) return;
    trainButton.disabled = false;
    cancelButton.disabled = true;
    exportButton.disabled = !msg.ok && exportButton.disabled;
    trainStatus.textContent = msg.message;
    trainStatus.className = msg.ok ? '' : 'muted';
    if (msg.ok) {
      // a run started from the command palette asked its own size: the field shows the result's
      if (msg.vocabSize !== undefined) sizeInput.value = String(msg.vocabSize);
      exportButton.disabled = false;
      exportButton.title = '';
      trainProgress.value = trainProgress.max;
    }
    saveBpe(true);
  }
}

function byteLevelVisible(s: string): string {
  return s.replace(/Ġ/g, '·').replace(/Ċ/g, '↵').replace(/ĉ/g, '→');
}

/** The merge list keeps the first merges (the most frequent pairs, the most instructive) and the newest ones, with a gap between. */
const KEEP_FIRST = 250;
const KEEP_LAST = 250;
let mergeTotal = 0;
let mergeGap: HTMLLIElement | undefined;
let mergeNote: HTMLElement;

function clearMerges(): void {
  mergeList.replaceChildren();
  mergeGap = undefined;
  mergeTotal = 0;
  mergeNote.textContent = '';
}

function addMerges(merges: BpeMergeView[]): void {
  const frag = document.createDocumentFragment();
  for (const m of merges) {
    mergeTotal = Math.max(mergeTotal, m.rank + 1);
    frag.append(
      el(
        'li',
        { value: String(m.rank + 1), title: `merge ${m.rank + 1}: "${m.left}" + "${m.right}" → "${m.token}" (id ${m.id}), ${m.count} occurrences` },
        el('code', {}, byteLevelVisible(m.left)),
        ' + ',
        el('code', {}, byteLevelVisible(m.right)),
        ' → ',
        el('code', { class: 'tok-new' }, byteLevelVisible(m.token)),
        el('span', { class: 'muted' }, ` id ${m.id} · ${m.count.toLocaleString('en-US')}×`),
      ),
    );
  }
  mergeList.append(frag);
  // keep the list bounded: the first KEEP_FIRST merges and the newest KEEP_LAST
  const items = Array.from(mergeList.children).filter((li) => li !== mergeGap);
  if (items.length > KEEP_FIRST + KEEP_LAST) {
    if (!mergeGap) {
      mergeGap = el('li', { class: 'muted bpe-gap', id: 'bpe-merges-gap' }) as HTMLLIElement;
      mergeList.insertBefore(mergeGap, items[KEEP_FIRST]!);
    }
    for (const li of items.slice(KEEP_FIRST, items.length - KEEP_LAST)) li.remove();
  }
  const n = mergeTotal.toLocaleString('en-US');
  if (mergeGap) {
    mergeGap.textContent = `… merges ${KEEP_FIRST + 1}–${(mergeTotal - KEEP_LAST).toLocaleString('en-US')} are not shown …`;
    mergeNote.textContent = `Showing the first ${KEEP_FIRST} and the last ${KEEP_LAST} of ${n} merges.`;
  } else {
    mergeNote.textContent = mergeTotal ? `All ${n} merges, in order.` : '';
  }
  mergeList.scrollTop = mergeList.scrollHeight;
}

function buildTrainer(): HTMLElement {
  const source = el(
    'select',
    { id: 'bpe-source', 'aria-label': 'Training text' },
    el('option', { value: 'shakespeare' }, 'Shakespeare (bundled, 1.1 MB)'),
    el('option', { value: 'activeFile' }, 'The open file'),
    el('option', { value: 'folder' }, 'A folder…'),
  ) as HTMLSelectElement;
  const size = el('input', {
    id: 'bpe-size',
    type: 'number',
    min: String(VOCAB_RANGE.min),
    max: String(VOCAB_RANGE.max),
    value: '1000',
    'aria-label': 'Vocabulary size',
  }) as HTMLInputElement;
  sizeInput = size;
  mergeNote = el('p', { id: 'bpe-merges-note', class: 'muted' });
  const sizeError = fieldError('bpe-size-error');
  /** Shows the size's problem beside it; returns the size when it is valid. */
  const checkSize = (): number | undefined => {
    const c = checkInt(size.value, VOCAB_RANGE);
    setFieldError(size, sizeError, c.ok ? undefined : c.message);
    return c.ok ? c.value : undefined;
  };
  size.addEventListener('input', () => void checkSize());
  trainButton = el('button', { id: 'bpe-train', type: 'button' }, 'Train') as HTMLButtonElement;
  cancelButton = el('button', { id: 'bpe-cancel', type: 'button', class: 'secondary', disabled: '' }, 'Cancel') as HTMLButtonElement;
  exportButton = el('button', { id: 'bpe-export', type: 'button', class: 'secondary', disabled: '' }, 'Export tokenizer.json…') as HTMLButtonElement;
  trainStatus = el(
    'p',
    { id: 'bpe-status', 'aria-live': 'polite', class: 'muted' },
    'No tokenizer trained yet. A byte-level BPE starts from the 256 bytes and merges the most frequent pair, again and again.',
  );
  trainProgress = el('progress', { id: 'bpe-progress', max: '1', value: '0', 'aria-label': 'Training progress' }) as HTMLProgressElement;
  mergeList = el('ol', { id: 'bpe-merges', class: 'bpe-merges', 'aria-label': 'Merges, newest last', tabindex: '0' }) as HTMLOListElement;
  trainButton.addEventListener('click', () => {
    const n = checkSize();
    if (n === undefined) {
      size.focus();
      return;
    }
    trainButton.disabled = true;
    cancelButton.disabled = false;
    trainStatus.textContent = 'Starting…';
    request({ method: 'trainBpe', source: source.value as BpeSource, vocabSize: n }).then(
      (r) => {
        runId = r.runId;
        clearMerges();
      },
      (e: unknown) => {
        trainButton.disabled = false;
        cancelButton.disabled = true;
        trainStatus.textContent = `Training failed: ${e instanceof Error ? e.message : String(e)}`;
      },
    );
  });
  cancelButton.addEventListener('click', () => void request({ method: 'cancelTrainBpe' }));
  exportButton.addEventListener('click', () => {
    request({ method: 'exportBpe' }).then(
      (p) => p && (trainStatus.textContent = `Saved to ${p}`),
      (e: unknown) => (trainStatus.textContent = `Export failed: ${e instanceof Error ? e.message : String(e)}`),
    );
  });
  return el(
    'section',
    { id: 'bpe', 'aria-labelledby': 'bpe-h' },
    el('h2', { id: 'bpe-h' }, 'Train a BPE tokenizer'),
    el(
      'div',
      { class: 'row' },
      el('label', { for: 'bpe-source' }, 'Text '),
      source,
      el('label', { for: 'bpe-size' }, ' Vocabulary size '),
      size,
      sizeError,
      trainButton,
      cancelButton,
      exportButton,
    ),
    trainProgress,
    trainStatus,
    mergeNote,
    mergeList,
  );
}

function build(): HTMLElement {
  const box = el('section', { id: 'tokenizer', 'aria-labelledby': 'tokenizer-h' });
  textArea = el('textarea', { id: 'tok-input', rows: '5', spellcheck: 'false', 'aria-label': 'Text to tokenize' }) as HTMLTextAreaElement;
  textArea.value = saved.text;
  textArea.addEventListener('input', () => schedule(textArea.value.length > 100_000 ? 600 : 200));
  selects = [0, 1, 2].map((k) => {
    const s = el('select', { id: `tok-select-${k}`, 'aria-label': k === 0 ? 'Tokenizer' : `Compare with tokenizer ${k}` }) as HTMLSelectElement;
    s.addEventListener('change', () => schedule(0));
    return s;
  });
  resultsBox = el('div', { id: 'tok-results' }, el('p', { class: 'muted' }, 'Loading the tokenizers…'));
  detail = el('p', { id: 'tok-detail', class: 'tok-detail', 'aria-live': 'polite' });
  statusLine = el('span', { class: 'muted', 'aria-live': 'polite' });
  box.append(
    el('h2', { id: 'tokenizer-h' }, 'Tokenizer'),
    textArea,
    el(
      'div',
      { class: 'row' },
      el('label', { for: 'tok-select-0' }, 'Tokenizer '),
      selects[0]!,
      el('label', { for: 'tok-select-1' }, ' compare with '),
      selects[1]!,
      el('label', { for: 'tok-select-2' }, ' and '),
      selects[2]!,
      ' ',
      statusLine,
    ),
    detail,
    resultsBox,
  );
  trainBox = buildTrainer();
  box.append(trainBox);
  restoreBpe();
  fillSelects();
  return box;
}

export const TOKENIZER_STYLE = `
#tokenizer textarea { width: 100%; box-sizing: border-box; font-family: var(--vscode-editor-font-family); font-size: var(--vscode-editor-font-size);
  color: var(--vscode-input-foreground); background: var(--vscode-input-background); border: 1px solid var(--vscode-input-border, var(--vscode-panel-border)); padding: 4px; }
#tokenizer select, #tokenizer input { color: var(--vscode-dropdown-foreground); background: var(--vscode-dropdown-background); border: 1px solid var(--vscode-dropdown-border); padding: 2px; }
#tokenizer button { color: var(--vscode-button-foreground); background: var(--vscode-button-background); border: 1px solid var(--vscode-button-border, transparent); padding: 3px 10px; margin: 2px 4px; cursor: pointer; }
#tokenizer button:hover { background: var(--vscode-button-hoverBackground); }
#tokenizer button.secondary { color: var(--vscode-button-secondaryForeground); background: var(--vscode-button-secondaryBackground); }
#tokenizer button:disabled { opacity: 0.5; cursor: default; }
#tokenizer .row { margin: 6px 0; display: flex; flex-wrap: wrap; align-items: center; gap: 4px; }
.tok-cols { display: grid; gap: 12px; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); }
.tok-col h3 { font-size: 1em; margin: 8px 0 2px; }
.tok-counts { margin: 2px 0 6px; }
.tok-view { font-family: var(--vscode-editor-font-family); font-size: var(--vscode-editor-font-size); line-height: 1.2; max-height: 60vh; overflow: auto; }
.tok-box { display: inline-flex; flex-direction: column; align-items: stretch; margin: 0 1px 4px 0; border-radius: 3px; border: 1px solid transparent; vertical-align: top; }
.tok-box.c0 { background: var(--vscode-editor-findMatchHighlightBackground); }
.tok-box.c1 { background: var(--vscode-diffEditor-insertedTextBackground); }
.tok-box.c2 { background: var(--vscode-editor-wordHighlightStrongBackground); }
.tok-box.c3 { background: var(--vscode-diffEditor-removedTextBackground); }
body.vscode-high-contrast .tok-box, body.vscode-high-contrast-light .tok-box { border-color: var(--vscode-contrastBorder); }
.tok-box.special { border-color: var(--vscode-charts-purple); }
.tok-box.diff { outline: 1px dashed var(--vscode-editorWarning-foreground); outline-offset: -1px; }
.tok-box.split .tok-ids { border-top: 1px dotted var(--vscode-descriptionForeground); }
.tok-text { padding: 0 2px; white-space: pre; text-align: center; }
.tok-ids { display: flex; justify-content: center; gap: 2px; font-size: 0.75em; color: var(--vscode-descriptionForeground); }
.tok-id { padding: 0 2px; border-radius: 2px; cursor: default; }
.tok-id:focus, .tok-id[aria-selected="true"] { outline: 1px solid var(--vscode-focusBorder); color: var(--vscode-foreground); }
.tok-detail { min-height: 1.4em; font-family: var(--vscode-editor-font-family); color: var(--vscode-descriptionForeground); word-break: break-all; }
#bpe progress { width: 100%; }
.bpe-merges { max-height: 40vh; overflow: auto; font-family: var(--vscode-editor-font-family); padding-left: 4em; margin: 4px 0; border: 1px solid var(--vscode-panel-border); }
.bpe-merges code { background: var(--vscode-textCodeBlock-background); padding: 0 2px; white-space: pre; }
.bpe-merges .tok-new { color: var(--vscode-textLink-foreground); }
.bpe-merges .bpe-gap { list-style: none; margin-left: -3em; font-style: italic; }
`;

export const tokenizerPanel: Panel = {
  id: 'tokenizer',
  title: 'Tokenizer',
  init() {
    adoptStyle(TOKENIZER_STYLE);
    onHostMessage((msg) => {
      switch (msg.type) {
        case 'init':
          void refreshList();
          break;
        case 'tokenizersChanged':
          void refreshList();
          break;
        case 'tokenizerInput':
          if (root) setText(msg.text);
          break;
        case 'bpeProgress':
        case 'bpeFinished':
          if (root) onBpe(msg);
          break;
        default:
          break;
      }
    });
  },
  render(): HTMLElement {
    if (!root) root = build();
    return root;
  },
};
