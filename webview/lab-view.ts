/**
 * What the decoding lab draws for a column's run: the text as token spans with the entropy
 * strip under it, the step debugger (per stage, probability bars of the top candidates with
 * the named token pinned; each candidate a button that branches), and the beam tree as SVG.
 * Builders only: the panel (panels/lab.ts) owns the state and passes callbacks.
 */
import type { BeamTreeNode } from '../engine/generate/beam';
import type { StepInspection } from '../engine/generate/inspect';
import { el } from './dom';
import type { LabColumnRun } from './lab-export';

/** A token's text drawn so that spaces and newlines can be seen. */
export function visible(piece: string): string {
  return piece.replace(/ /g, '␣').replace(/\n/g, '↵').replace(/\t/g, '⇥') || '∅';
}

function pct(p: number): string {
  return `${(p * 100).toFixed(p >= 0.1 ? 1 : 2)}%`;
}

/** The column's text: one span per step (select a step by clicking), and the entropy strip below. */
export function textView(c: LabColumnRun, col: number, selected: number, maxEntropy: number, pieces: Record<string, string>, onSelect: (step: number) => void): HTMLElement {
  const text = el('div', { class: 'lab-text', id: `lab-text-${col}`, 'aria-label': `Column ${col + 1} text` });
  const strip = el('div', { class: 'lab-entropy', id: `lab-entropy-${col}`, 'aria-hidden': 'true', title: 'Entropy of the raw distribution at each step (taller: less sure)' });
  // speculative decoding: within a target pass, the accepted drafted ids, then the target's own (after the rejected drafts, struck out)
  let accLeft = 0;
  let rejected: number[] = [];
  let inPass = false;
  for (const s of c.steps) {
    if (s.drafted) {
      accLeft = s.drafted.accepted;
      rejected = s.drafted.tokens.slice(s.drafted.accepted);
      inPass = true;
    }
    const role = inPass ? (accLeft > 0 ? 'accepted' : 'target') : '';
    if (role === 'target' && rejected.length) {
      text.append(
        el('s', { class: 'lab-rej', title: 'drafted, rejected by the target', 'data-tokens': rejected.join(',') }, rejected.map((id) => pieces[id] ?? `#${id}`).join('')),
      );
    }
    if (role === 'accepted') accLeft--;
    if (role === 'target') {
      rejected = [];
      inPass = false;
    }
    const span = el(
      'span',
      { class: `lab-tok${s.step === selected ? ' sel' : ''}${s.forced ? ' forced' : ''}${role ? ` ${role}` : ''}`, 'data-step': String(s.step), 'data-token': String(s.token) },
      s.text,
    );
    if (role) span.title = role === 'accepted' ? 'drafted and accepted' : "the target's own token";
    span.addEventListener('click', () => onSelect(s.step));
    text.append(span);
    const h = s.inspection ? s.inspection.stages[0].entropy : 0;
    const bar = el('span', { class: `lab-ent${s.step === selected ? ' sel' : ''}`, 'data-step': String(s.step), 'data-entropy': h.toFixed(4) });
    bar.style.height = `${Math.max(2, Math.round((18 * h) / Math.max(maxEntropy, 1e-9)))}px`;
    bar.addEventListener('click', () => onSelect(s.step));
    strip.append(bar);
  }
  if (c.steps.length === 0) text.append(el('span', { class: 'muted' }, c.error ? '' : 'No tokens yet.'));
  return el('div', {}, text, strip);
}

/**
 * The step debugger for one step: a block per stage (its name, how many ids survive, its
 * entropy) with bars for its top candidates; the chosen id marked, the named token pinned
 * under the bars (its rank and probability before and after the chain).
 */
export function inspectionView(
  ins: StepInspection,
  col: number,
  step: number,
  pieces: Record<string, string>,
  onBranch: (stage: number, id: number) => void,
  canBranch: string | undefined,
): HTMLElement {
  const box = el('div', { class: 'lab-inspect', id: `lab-inspect-${col}`, 'data-step': String(step) });
  box.append(
    el(
      'p',
      { class: 'lab-chosen', 'data-id': String(ins.chosen.id), 'data-rank': String(ins.chosen.rank), 'data-prob': ins.chosen.prob.toFixed(6) },
      `Step ${step + 1}: chose "${visible(pieces[ins.chosen.id] ?? `#${ins.chosen.id}`)}" (id ${ins.chosen.id}), rank ${ins.chosen.rank + 1}, p = ${pct(ins.chosen.prob)}`,
    ),
  );
  const named = ins.named[0];
  ins.stages.forEach((st, si) => {
    const stage = el('div', { class: 'lab-stage', 'data-stage': st.name });
    stage.append(
      el(
        'div',
        { class: 'lab-stage-h' },
        el('b', {}, st.name),
        el('span', { class: 'muted' }, ` ${st.surviving.toLocaleString('en-US')} left · H = ${st.entropy.toFixed(3)} nats`),
      ),
    );
    const list = el('div', { class: 'lab-bars', role: 'list' });
    const best = st.top[0]?.prob ?? 1;
    for (const cand of st.top) {
      const chosen = cand.id === ins.chosen.id;
      const row = el('button', {
        class: `lab-bar${chosen ? ' chosen' : ''}${named && cand.id === named.id ? ' named' : ''}`,
        role: 'listitem',
        'data-id': String(cand.id),
        'data-prob': cand.prob.toFixed(6),
        title: canBranch ?? `Branch: a new column that takes "${visible(pieces[cand.id] ?? '')}" at step ${step + 1} and continues`,
        'aria-label': `${visible(pieces[cand.id] ?? `#${cand.id}`)} ${pct(cand.prob)}${chosen ? ', chosen' : ''}. ${canBranch ?? 'Enter branches from here.'}`,
      });
      if (canBranch) row.setAttribute('aria-disabled', 'true');
      const fill = el('span', { class: 'fill' });
      fill.style.width = `${Math.max(0.5, (100 * cand.prob) / best)}%`;
      row.append(el('span', { class: 'tok' }, visible(pieces[cand.id] ?? `#${cand.id}`)), el('span', { class: 'track' }, fill), el('span', { class: 'p' }, pct(cand.prob)));
      row.addEventListener('click', () => onBranch(si, cand.id));
      list.append(row);
    }
    stage.append(list);
    box.append(stage);
  });
  if (named) {
    const before = `rank ${named.before.rank + 1}, p = ${pct(named.before.prob)} before the chain`;
    const after = named.after ? `rank ${named.after.rank + 1}, p = ${pct(named.after.prob)} after` : 'masked after the chain';
    box.append(
      el(
        'p',
        { class: 'lab-named', 'data-id': String(named.id), 'data-before-rank': String(named.before.rank), 'data-after-rank': named.after ? String(named.after.rank) : 'masked' },
        `📌 "${visible(pieces[named.id] ?? `#${named.id}`)}" (id ${named.id}): ${before}; ${after}.`,
      ),
    );
  }
  return box;
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * The beam tree: one column of nodes per step (left to right), each node a token with its
 * cumulative log-probability, an edge to its parent; finished hypotheses outlined, pruned
 * ones faded, the best returned sequence drawn bold.
 */
export function beamTreeView(tree: readonly BeamTreeNode[], best: readonly number[], pieces: Record<string, string>, col: number): HTMLElement {
  const byStep = new Map<number, BeamTreeNode[]>();
  // the root (parent -1) is the prompt, drawn first as "prompt"
  for (const n of tree) (byStep.get(n.step) ?? byStep.set(n.step, []).get(n.step)!).push(n);
  const steps = [...byStep.keys()].sort((a, b) => a - b);
  const W = 92;
  const H = 30;
  const rows = Math.max(1, ...[...byStep.values()].map((l) => l.length));
  const pos = new Map<number, { x: number; y: number }>();
  for (const s of steps) {
    const list = byStep.get(s)!.sort((a, b) => b.logProb - a.logProb);
    list.forEach((n, i) => pos.set(n.index, { x: 8 + (s - steps[0]) * W, y: 14 + i * H }));
  }
  // the best sequence: follow the nodes whose tokens spell it from the root
  const onBest = new Set<number>();
  let parent = tree.find((n) => n.parent === -1)?.index ?? -1;
  onBest.add(parent);
  for (let i = 0; i < best.length; i++) {
    const next = tree.filter((n) => n.parent === parent && n.token === best[i]).sort((a, b) => b.logProb - a.logProb)[0];
    if (!next) break;
    onBest.add(next.index);
    parent = next.index;
  }
  const width = 16 + steps.length * W;
  const height = 20 + rows * H;
  const root = svg('svg', {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': `Beam tree: ${tree.length} hypotheses over ${steps.length} steps`,
    class: 'lab-tree',
  });
  for (const n of tree) {
    const p = pos.get(n.index);
    const q = pos.get(n.parent);
    if (p && q) root.append(svg('line', { x1: q.x + W - 16, y1: q.y, x2: p.x, y2: p.y, class: `edge ${n.state}${onBest.has(n.index) ? ' best' : ''}` }));
  }
  for (const n of tree) {
    const p = pos.get(n.index);
    if (!p) continue;
    const g = svg('g', {
      class: `node ${n.state}${onBest.has(n.index) ? ' best' : ''}`,
      'data-index': n.index,
      'data-token': n.token,
      'data-step': n.step,
      'data-logprob': n.logProb.toFixed(4),
    });
    g.append(svg('rect', { x: p.x, y: p.y - 11, width: W - 16, height: 22, rx: 3 }));
    const label = n.parent === -1 ? 'prompt' : visible(pieces[n.token] ?? `#${n.token}`).slice(0, 10);
    g.append(svg('text', { x: p.x + 4, y: p.y - 1 }, label));
    g.append(svg('text', { x: p.x + 4, y: p.y + 9, class: 'score' }, n.logProb.toFixed(2)));
    g.append(
      svg('title', {}, n.parent === -1 ? 'the prompt' : `${visible(pieces[n.token] ?? '')} (id ${n.token}) · step ${n.step + 1} · log p = ${n.logProb.toFixed(4)} · ${n.state}`),
    );
    root.append(g);
  }
  return el('div', { class: 'lab-tree-box', id: `lab-tree-${col}`, tabindex: '0', 'aria-label': 'Beam tree (scroll sideways)' }, root as unknown as HTMLElement);
}

export const LAB_STYLE = `
#lab .lab-cols { display: grid; grid-template-columns: repeat(auto-fit, minmax(240px, 1fr)); gap: 10px; margin: 8px 0; }
#lab .lab-col { border: 1px solid var(--vscode-widget-border, var(--vscode-panel-border, transparent)); padding: 6px 8px; min-width: 0; }
#lab .lab-col h3 { font-size: 1em; margin: 2px 0 4px; display: flex; justify-content: space-between; align-items: center; gap: 4px; }
#lab .lab-chain { list-style: none; padding: 0; margin: 4px 0; }
#lab .lab-chain li { display: flex; flex-wrap: wrap; align-items: center; gap: 2px 4px; padding: 1px 0; }
#lab .lab-chain li input { width: 5.5em; }
#lab .lab-chain .name { min-width: 9em; font-family: var(--vscode-editor-font-family); }
#lab .icon-btn { background: none; border: 1px solid transparent; color: var(--vscode-foreground); cursor: pointer; padding: 0 3px; }
#lab .icon-btn:hover { background: var(--vscode-toolbar-hoverBackground); }
#lab .icon-btn[disabled] { opacity: 0.4; cursor: default; }
#lab .lab-text { white-space: pre-wrap; word-break: break-word; font-family: var(--vscode-editor-font-family); font-size: var(--vscode-editor-font-size);
  background: var(--vscode-textCodeBlock-background, var(--vscode-editor-background)); padding: 6px; min-height: 2.5em; }
#lab .lab-tok { cursor: pointer; border-radius: 2px; }
#lab .lab-tok:hover { background: var(--vscode-list-hoverBackground); }
#lab .lab-tok.sel { background: var(--vscode-editor-selectionBackground); outline: 1px solid var(--vscode-focusBorder); }
#lab .lab-tok.accepted { text-decoration: underline solid var(--vscode-charts-green, var(--vscode-focusBorder)) 2px; }
#lab .lab-tok.target { text-decoration: underline solid var(--vscode-charts-blue, var(--vscode-focusBorder)) 2px; }
#lab .lab-rej { color: var(--vscode-errorForeground); opacity: 0.8; font-size: 0.85em; }
#lab .lab-tok.forced { text-decoration: underline dotted var(--vscode-descriptionForeground); }
#lab .lab-entropy { display: flex; align-items: flex-end; gap: 1px; height: 20px; margin: 2px 0 6px; overflow: hidden; }
#lab .lab-ent { flex: 0 0 4px; background: var(--vscode-charts-orange, var(--vscode-progressBar-background)); cursor: pointer; }
#lab .lab-ent.sel { background: var(--vscode-focusBorder); }
#lab .lab-stage { margin: 4px 0 6px; }
#lab .lab-stage-h { font-family: var(--vscode-editor-font-family); }
#lab .lab-bar { display: grid; grid-template-columns: 6em 1fr 4.5em; gap: 4px; align-items: center; width: 100%; background: none; border: 1px solid transparent;
  color: var(--vscode-foreground); font: inherit; padding: 0 2px; text-align: left; cursor: pointer; }
#lab .lab-bar:hover, #lab .lab-bar:focus-visible { border-color: var(--vscode-focusBorder); }
#lab .lab-bar .tok { font-family: var(--vscode-editor-font-family); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
#lab .lab-bar .track { height: 8px; background: var(--vscode-input-background); }
#lab .lab-bar .fill { display: block; height: 100%; background: var(--vscode-charts-blue, var(--vscode-progressBar-background)); }
#lab .lab-bar.chosen .fill { background: var(--vscode-charts-green, var(--vscode-focusBorder)); }
#lab .lab-bar.chosen .tok { font-weight: 600; }
#lab .lab-bar.named { outline: 1px dashed var(--vscode-charts-yellow, var(--vscode-focusBorder)); }
#lab .lab-bar .p { text-align: right; font-variant-numeric: tabular-nums; }
#lab .lab-tree-box { overflow: auto; max-height: 320px; border: 1px solid var(--vscode-widget-border, transparent); margin: 4px 0; }
#lab .lab-tree text { fill: var(--vscode-foreground); font-family: var(--vscode-editor-font-family); font-size: 11px; }
#lab .lab-tree text.score { fill: var(--vscode-descriptionForeground); font-size: 9px; }
#lab .lab-tree rect { fill: var(--vscode-editor-background); stroke: var(--vscode-widget-border, var(--vscode-descriptionForeground)); }
#lab .lab-tree .finished rect { stroke: var(--vscode-charts-green, var(--vscode-focusBorder)); stroke-width: 2; }
#lab .lab-tree .pruned { opacity: 0.45; }
#lab .lab-tree .best rect { stroke: var(--vscode-focusBorder); stroke-width: 2.5; }
#lab .lab-tree line { stroke: var(--vscode-descriptionForeground); }
#lab .lab-tree line.pruned { opacity: 0.35; }
#lab .lab-tree line.best { stroke: var(--vscode-focusBorder); stroke-width: 2; }
#lab .lab-seq { font-family: var(--vscode-editor-font-family); margin: 2px 0; }
#lab input[type=range] { width: 100%; }
#lab input[type=text] { color: var(--vscode-input-foreground); background: var(--vscode-input-background); border: 1px solid var(--vscode-input-border, transparent); padding: 3px 5px; }
`;
