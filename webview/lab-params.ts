/**
 * The decoding lab's strategies as the panel edits them: the processors it offers (Hugging
 * Face's keys, llama.cpp's where HF has none) with their parameter ranges, the presets with
 * their one-line explanations, and the checks of every field — the same ranges the engine's
 * processors check, said beside the field before anything runs. Pure (no DOM): unit-tested.
 */
import type { LabSampler, LabStrategy, ModelLoadSpec } from '../engine/protocol/index';

export interface ParamRange {
  min: number;
  max: number;
  /** The bound itself is not allowed. */
  minOpen?: boolean;
  maxOpen?: boolean;
  integer?: boolean;
}

export interface ProcessorInfo {
  /** What the chain shows. */
  label: string;
  /** The main parameter (`value`). */
  value: ParamRange & { default: number };
  /** A second parameter, where the processor has one. */
  extra?: { key: string; label: string; range: ParamRange; default: number };
  /** The value is a list typed as text ("token or id: bias" pairs, or words) rather than a number. */
  list?: 'bias' | 'words';
  explain: string;
}

/** The processors the panel offers, in Hugging Face's order (the default order of a chain). */
export const PROCESSORS: Record<string, ProcessorInfo> = {
  logit_bias: {
    label: 'logit_bias',
    value: { min: -100, max: 100, default: 0 },
    list: 'bias',
    explain: 'Adds a bias to chosen tokens: "token or id: bias" pairs (bias in [-100, 100], -inf bans); a word of several tokens biases its last token after the others.',
  },
  repetition_penalty: {
    label: 'repetition_penalty',
    value: { min: 0, max: 10, minOpen: true, default: 1.2 },
    explain: 'Divides positive (multiplies negative) scores of ids already seen.',
  },
  frequency_penalty: { label: 'frequency_penalty', value: { min: -2, max: 2, default: 0.5 }, explain: 'Subtracts value × how often each id was generated.' },
  presence_penalty: { label: 'presence_penalty', value: { min: -2, max: 2, default: 0.5 }, explain: 'Subtracts value from every id generated at least once.' },
  no_repeat_ngram_size: { label: 'no_repeat_ngram_size', value: { min: 1, max: 64, integer: true, default: 3 }, explain: 'Masks ids that would repeat an n-gram.' },
  bad_words_ids: {
    label: 'bad_words_ids',
    value: { min: 0, max: 0, default: 0 },
    list: 'words',
    explain: 'Bans words: a word (or id sequence) of several tokens bans its last token after the others.',
  },
  min_new_tokens: { label: 'min_new_tokens', value: { min: 0, max: 4096, integer: true, default: 8 }, explain: 'Masks the end-of-text id until this many new ids.' },
  dry: { label: 'dry', value: { min: 0, max: 10, default: 0.8 }, explain: "llama.cpp's DRY: penalises ids that would extend a repeated sequence." },
  temperature: { label: 'temperature', value: { min: 0, max: 100, minOpen: true, default: 0.8 }, explain: 'Divides the scores: below 1 sharpens, above 1 flattens.' },
  top_k: { label: 'top_k', value: { min: 1, max: 1_000_000, integer: true, default: 40 }, explain: 'Keeps the k most likely ids.' },
  top_n_sigma: { label: 'top_n_sigma', value: { min: 0, max: 100, minOpen: true, default: 1 }, explain: 'Keeps scores within n standard deviations of the best.' },
  top_p: { label: 'top_p', value: { min: 0, max: 1, minOpen: true, default: 0.9 }, explain: 'Keeps the smallest set of ids whose probabilities add up to p.' },
  min_p: { label: 'min_p', value: { min: 0, max: 1, default: 0.1 }, explain: "Keeps ids at least p × the best id's probability." },
  typical_p: { label: 'typical_p', value: { min: 0, max: 1, minOpen: true, default: 0.9 }, explain: 'Keeps the ids whose surprise is closest to the entropy, up to mass p.' },
  epsilon_cutoff: { label: 'epsilon_cutoff', value: { min: 0, max: 1, minOpen: true, maxOpen: true, default: 0.0003 }, explain: 'Masks ids with probability below ε.' },
  eta_cutoff: {
    label: 'eta_cutoff',
    value: { min: 0, max: 1, minOpen: true, maxOpen: true, default: 0.0009 },
    explain: 'Masks ids below min(η, √η·e^−H): the cut follows the entropy.',
  },
  xtc: {
    label: 'xtc',
    value: { min: 0, max: 1, default: 0.1 },
    extra: { key: 'probability', label: 'probability', range: { min: 0, max: 1 }, default: 0.5 },
    explain: "llama.cpp's XTC: with some probability, masks every id above the threshold but the least likely of them.",
  },
  mirostat_v2: {
    label: 'mirostat_v2',
    value: { min: 0, max: 100, minOpen: true, default: 5 },
    extra: { key: 'eta', label: 'eta', range: { min: 0, max: 1, minOpen: true }, default: 0.1 },
    explain: 'Keeps ids whose surprise is at most μ; μ moves each step towards the target surprise τ (bits).',
  },
};

export const PROCESSOR_ORDER = Object.keys(PROCESSORS);

/** A processor in a column's chain as the panel holds it: the field texts as typed. */
export interface ChainItem {
  name: string;
  value: string;
  extra?: string;
}

export interface SpeculativeFields {
  draftLayers: string;
  draftTokens: string;
  sample: boolean;
  /** Another model's id as the draft; empty or absent: the early-exit draft (draft_layers). */
  draftModel?: string;
}

export interface BeamFields {
  numBeams: string;
  lengthPenalty: string;
  earlyStopping: boolean;
  /** Diverse beam search (absent in forms saved before it: 1 and 0). */
  numBeamGroups?: string;
  diversityPenalty?: string;
}

/** A column's strategy as the panel edits it. */
export interface StrategyForm {
  preset: string;
  label: string;
  kind: 'greedy' | 'sample' | 'beam' | 'speculative';
  chain: ChainItem[];
  beam: BeamFields;
  speculative: SpeculativeFields;
}

export interface Preset {
  id: string;
  label: string;
  /** One line: what it does. */
  explain: string;
  kind: StrategyForm['kind'];
  chain: [string, number][];
}

export const PRESETS: Preset[] = [
  { id: 'greedy', label: 'Greedy', explain: 'Always the most likely token: deterministic, and prone to loops.', kind: 'greedy', chain: [] },
  { id: 'sample', label: 'Sampling (T = 1)', explain: "Draws each token from the model's full distribution, as it is.", kind: 'sample', chain: [] },
  {
    id: 'temperature',
    label: 'Temperature 0.7',
    explain: 'Divides the logits by T before sampling: below 1 sharpens the distribution, above 1 flattens it.',
    kind: 'sample',
    chain: [['temperature', 0.7]],
  },
  { id: 'top-k', label: 'Top-k (k = 40)', explain: 'Samples among the k most likely tokens only; the rest get probability 0.', kind: 'sample', chain: [['top_k', 40]] },
  {
    id: 'top-p',
    label: 'Top-p (p = 0.9)',
    explain: 'Nucleus sampling: the smallest set of tokens whose probabilities add up to p, so the cut follows the model’s confidence.',
    kind: 'sample',
    chain: [['top_p', 0.9]],
  },
  {
    id: 'min-p',
    label: 'Min-p (p = 0.1)',
    explain: 'Keeps tokens at least p × as likely as the best one: strict when the model is sure, loose when it is not.',
    kind: 'sample',
    chain: [['min_p', 0.1]],
  },
  {
    id: 'typical',
    label: 'Typical (p = 0.9)',
    explain: 'Keeps tokens whose surprise is close to the average surprise (the entropy), up to mass p.',
    kind: 'sample',
    chain: [['typical_p', 0.9]],
  },
  {
    id: 'mirostat',
    label: 'Mirostat v2 (τ = 5)',
    explain: 'Adapts a cut each step so the surprise of the chosen tokens stays near τ bits.',
    kind: 'sample',
    chain: [['mirostat_v2', 5]],
  },
  {
    id: 'beam',
    label: 'Beam search (4 beams)',
    explain: 'Keeps the 4 best partial sequences by total log-probability at each step and returns the best finished one.',
    kind: 'beam',
    chain: [],
  },
  {
    id: 'speculative',
    label: 'Speculative (early-exit draft)',
    explain:
      'The model cut after its first layers drafts 4 tokens; the full model checks them in one pass and keeps the ones it agrees with — the same text as greedy, fewer full passes.',
    kind: 'speculative',
    chain: [],
  },
  { id: 'custom', label: 'Custom', explain: 'Your own chain: add processors, reorder them, choose the sampler.', kind: 'sample', chain: [] },
];

export function presetForm(id: string): StrategyForm {
  const p = PRESETS.find((x) => x.id === id) ?? PRESETS[0];
  return {
    preset: p.id,
    label: p.label,
    kind: p.kind,
    chain: p.chain.map(([name, v]) => item(name, v)),
    beam: { numBeams: '4', lengthPenalty: '1', earlyStopping: true, numBeamGroups: '1', diversityPenalty: '0' },
    speculative: { draftLayers: '3', draftTokens: '4', sample: false },
  };
}

export function item(name: string, value?: number): ChainItem {
  const info = PROCESSORS[name];
  if (info.list) return { name, value: '' };
  return { name, value: String(value ?? info.value.default), ...(info.extra ? { extra: String(info.extra.default) } : {}) };
}

function fmt(n: number): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: 6 });
}

/** The range in words: "(0, 1]", "a whole number from 1 to 64". */
export function rangeText(r: ParamRange): string {
  if (r.integer) return `a whole number from ${fmt(r.min)} to ${fmt(r.max)}`;
  return `a number in ${r.minOpen ? '(' : '['}${fmt(r.min)}, ${fmt(r.max)}${r.maxOpen ? ')' : ']'}`;
}

export type Checked = { ok: true; value: number } | { ok: false; message: string };

/** Checks a field's text against a range; the message names the parameter and the range. */
export function checkParam(name: string, text: string, r: ParamRange): Checked {
  const want = rangeText(r);
  const t = text.trim();
  if (t === '') return { ok: false, message: `${name}: enter ${want}.` };
  const v = Number(t);
  if (!Number.isFinite(v)) return { ok: false, message: `${name} must be ${want}; "${t}" is not a number.` };
  if (r.integer && !Number.isInteger(v)) return { ok: false, message: `${name} must be ${want}, not ${t}.` };
  if (v < r.min || (r.minOpen && v === r.min)) return { ok: false, message: `${name} must be ${want}; ${t} is too small.` };
  if (v > r.max || (r.maxOpen && v === r.max)) return { ok: false, message: `${name} must be ${want}; ${t} is too large.` };
  return { ok: true, value: v };
}

export const BEAM_RANGE: ParamRange = { min: 1, max: 16, integer: true };
export const DIVERSITY_PENALTY_RANGE: ParamRange = { min: 0, max: 100 };
export const BIAS_RANGE: ParamRange = PROCESSORS.logit_bias.value;

/** The entries of a list field: split at commas and new lines outside double quotes. */
function entries(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (!quoted && (ch === ',' || ch === '\n')) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((e) => e.trim()).filter((e) => e !== '');
}

/** An entry's key: ids ("42", "7 8") or token text ("the", or quoted to keep spaces: " the"). */
function entryKey(name: string, key: string, vocabSize: number | undefined): { ok: true; ids?: number[]; text?: string } | { ok: false; message: string } {
  if (/^\d+(\s+\d+)*$/.test(key)) {
    const ids = key.split(/\s+/).map(Number);
    const bad = ids.find((id) => !Number.isSafeInteger(id) || (vocabSize !== undefined && id >= vocabSize));
    if (bad !== undefined) return { ok: false, message: `${name}: id ${bad} is outside the vocabulary [0, ${vocabSize ?? 2 ** 53}).` };
    return { ok: true, ids };
  }
  const text = /^".*"$/s.test(key) ? key.slice(1, -1) : key;
  if (text === '' || text.includes('"'))
    return { ok: false, message: `${name}: ${JSON.stringify(key)} is neither ids nor a token; write text as is, or in double quotes to keep spaces (" the").` };
  return { ok: true, text };
}

/** A logit_bias field checked: ids → bias (the processor's keys "<id>" / "<id,id,…>", null: -inf) and texts for the worker to tokenize. */
export type BiasChecked = { ok: true; bias: Record<string, number | null>; texts: { text: string; bias: number | null }[] } | { ok: false; message: string };

/** Checks "token or id: bias" pairs; the message names logit_bias, the entry and the range. */
export function checkLogitBias(text: string, vocabSize?: number): BiasChecked {
  const example = 'e.g. "the: -5, 42: 2" (bias in [-100, 100], or -inf to ban)';
  const list = entries(text);
  if (!list.length) return { ok: false, message: `logit_bias: enter "token or id: bias" pairs, ${example}.` };
  const bias: Record<string, number | null> = {};
  const texts: { text: string; bias: number | null }[] = [];
  for (const e of list) {
    const colon = e.lastIndexOf(':');
    if (colon < 0) return { ok: false, message: `logit_bias: "${e}" has no ": bias"; ${example}.` };
    const k = entryKey('logit_bias', e.slice(0, colon).trim(), vocabSize);
    if (!k.ok) return k;
    const bt = e.slice(colon + 1).trim();
    let b: number | null;
    if (/^-inf(inity)?$/i.test(bt)) b = null;
    else {
      const c = checkParam(`logit_bias bias of "${e.slice(0, colon).trim()}"`, bt, BIAS_RANGE);
      if (!c.ok) return { ok: false, message: `${c.message.replace(/\.$/, '')} (or -inf to ban).` };
      b = c.value;
    }
    if (k.ids) bias[k.ids.join(',')] = b;
    else texts.push({ text: k.text!, bias: b });
  }
  return { ok: true, bias, texts };
}

/** A bad_words_ids field checked: id sequences and texts for the worker to tokenize. */
export type WordsChecked = { ok: true; ids: number[][]; words: string[] } | { ok: false; message: string };

/** Checks a list of words or id sequences ("hello, 13, 7 8"); the message names bad_words_ids. */
export function checkBadWords(text: string, vocabSize?: number): WordsChecked {
  const list = entries(text);
  if (!list.length) return { ok: false, message: 'bad_words_ids: enter words or id sequences separated by commas, e.g. "hello, 13, 7 8".' };
  const ids: number[][] = [];
  const words: string[] = [];
  for (const e of list) {
    const k = entryKey('bad_words_ids', e, vocabSize);
    if (!k.ok) return k;
    if (k.ids) ids.push(k.ids);
    else words.push(k.text!);
  }
  return { ok: true, ids, words };
}

/** A list field's check as one message (the form shows it beside the field). */
export function checkList(kind: 'bias' | 'words', text: string, vocabSize?: number): { ok: true } | { ok: false; message: string } {
  const c = kind === 'bias' ? checkLogitBias(text, vocabSize) : checkBadWords(text, vocabSize);
  return c.ok ? { ok: true } : c;
}
export const LENGTH_PENALTY_RANGE: ParamRange = { min: -10, max: 10 };
/** The worker checks draft_layers against the model's layer count too. */
export const DRAFT_LAYERS_RANGE: ParamRange = { min: 1, max: 256, integer: true };
export const DRAFT_TOKENS_RANGE: ParamRange = { min: 1, max: 16, integer: true };

/** A column's strategy from its form, or the first problem with it (naming the parameter and its range). */
export function strategyFromForm(
  f: StrategyForm,
  vocabSize?: number,
  draftSpec?: (modelId: string) => ModelLoadSpec | undefined,
): { ok: true; strategy: LabStrategy } | { ok: false; message: string } {
  const processors: LabStrategy['processors'] = [];
  for (const it of f.chain) {
    const info = PROCESSORS[it.name];
    if (!info) return { ok: false, message: `Unknown processor "${it.name}"; known: ${PROCESSOR_ORDER.join(', ')}.` };
    if (info.list === 'bias') {
      const b = checkLogitBias(it.value, vocabSize);
      if (!b.ok) return b;
      processors.push({ name: it.name, bias: b.bias, ...(b.texts.length ? { texts: b.texts } : {}) });
      continue;
    }
    if (info.list === 'words') {
      const w = checkBadWords(it.value, vocabSize);
      if (!w.ok) return w;
      processors.push({ name: it.name, ids: w.ids, ...(w.words.length ? { words: w.words } : {}) });
      continue;
    }
    const range = it.name === 'top_k' && vocabSize ? { ...info.value, max: vocabSize } : info.value;
    const v = checkParam(it.name, it.value, range);
    if (!v.ok) return v;
    const spec: LabStrategy['processors'][number] = { name: it.name, value: v.value };
    if (info.extra) {
      const e = checkParam(`${it.name}.${info.extra.key}`, it.extra ?? '', info.extra.range);
      if (!e.ok) return e;
      spec[info.extra.key] = e.value;
    }
    processors.push(spec);
  }
  let sampler: LabSampler;
  if (f.kind === 'beam') {
    const max = vocabSize ? Math.min(BEAM_RANGE.max, vocabSize) : BEAM_RANGE.max;
    const nb = checkParam('num_beams', f.beam.numBeams, { ...BEAM_RANGE, max });
    if (!nb.ok) return nb;
    const lp = checkParam('length_penalty', f.beam.lengthPenalty, LENGTH_PENALTY_RANGE);
    if (!lp.ok) return lp;
    const g = checkBeamGroups(f.beam.numBeamGroups ?? '1', nb.value);
    if (!g.ok) return g;
    const dp = checkDiversity(f.beam.diversityPenalty ?? '0', g.value);
    if (!dp.ok) return dp;
    sampler = { kind: 'beam', numBeams: nb.value, numReturnSequences: nb.value, lengthPenalty: lp.value, earlyStopping: f.beam.earlyStopping };
    if (g.value > 1) Object.assign(sampler, { numBeamGroups: g.value, diversityPenalty: dp.value });
  } else if (f.kind === 'speculative') {
    const sp = f.speculative ?? { draftLayers: '3', draftTokens: '4', sample: false };
    const dl = checkParam('draft_layers', sp.draftLayers, DRAFT_LAYERS_RANGE);
    if (!dl.ok) return dl;
    const dt = checkParam('draft_tokens', sp.draftTokens, DRAFT_TOKENS_RANGE);
    if (!dt.ok) return dt;
    sampler = { kind: 'speculative', draftLayers: dl.value, draftTokens: dt.value, sample: sp.sample };
    if (sp.draftModel) {
      const spec = draftSpec?.(sp.draftModel);
      if (!spec)
        return { ok: false, message: `draft model: "${sp.draftModel}" is not a model that can be loaded now (see the Models view); pick another or the early-exit draft.` };
      sampler.draftModel = spec;
    }
  } else {
    sampler = { kind: f.kind };
  }
  return { ok: true, strategy: { label: f.label, processors, sampler } };
}

/** num_beam_groups: a whole number from 1 to num_beams that divides num_beams. */
export function checkBeamGroups(text: string, numBeams: number): Checked {
  const g = checkParam('num_beam_groups', text, { min: 1, max: numBeams, integer: true });
  if (g.ok && numBeams % g.value !== 0) return { ok: false, message: `num_beam_groups must divide num_beams (${numBeams}); ${g.value} does not.` };
  return g;
}

/** diversity_penalty: a number in [0, 100]; above 0 only with num_beam_groups > 1. */
export function checkDiversity(text: string, groups: number): Checked {
  const d = checkParam('diversity_penalty', text, DIVERSITY_PENALTY_RANGE);
  if (d.ok && d.value > 0 && groups <= 1) return { ok: false, message: `diversity_penalty must be 0 unless num_beam_groups > 1 (it is ${groups}).` };
  return d;
}
