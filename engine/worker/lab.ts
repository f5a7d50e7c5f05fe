/**
 * The decoding lab in the worker: runs each column's strategy (a processor chain from
 * specs, then greedy, multinomial or beam search) on one prompt and seed with the loaded
 * model, one column after another on the one backend (each starts from a fresh cache), and
 * streams a record per step with the step debugger's inspection. A column with forced ids
 * (a branch) first replays them — the prompt and the forced ids through the model, each
 * step inspected with the forced id as the chosen one — then generates on from there.
 * Beam search answers with its sequences and tree, then the best sequence's steps.
 * Speculative decoding drafts with another registered model of the same vocabulary, or an
 * early-exit copy of the loaded model (its first layers), both on the CPU, and streams each target pass's ids with what was drafted and accepted, then
 * the steps again with their inspection (the target's distribution).
 *
 * Pure TypeScript (no DOM, no Node): the session (session.ts) hands it lab messages.
 */
import type { Backend } from '../backend/contract';
import { beamSearch } from '../generate/beam';
import { processorsFromSpecs, type ProcessorSpec } from '../generate/chain';
import { generate } from '../generate/generate';
import { speculative } from '../generate/speculative';
import { createBackend } from '../backend/registry';
import type { LoadedModel } from '../model/types';
import { inspectStep, type StepInspection } from '../generate/inspect';
import type { LogitsProcessor } from '../generate/processors';
import { Rng } from '../generate/rng';
import { GreedySampler, MultinomialSampler } from '../generate/samplers';
import type { LabColumn, LabPieces, LabWorkerMessage, LabWorkerRequest } from '../protocol/lab';
import type { ModelLoadSpec } from '../protocol/models';
import { MAX_LAB_COLUMNS, MAX_LAB_TOKENS, MAX_LAB_TOP } from '../protocol/lab';
import type { Tokenizer } from '../tokenizer/types';

/** What the lab runs on: the session's loaded model and tokenizer. */
export interface LabModel {
  backend: Backend;
  tokenizer: Tokenizer;
  stopIds: readonly number[];
  /** The loaded weights, when the session keeps them (speculative decoding's early-exit draft needs them). */
  loaded?: LoadedModel;
}

type LabRun = Extract<LabWorkerRequest, { type: 'labRun' }>;

/** A piece of text for a token as the lab shows it: the vocabulary's piece with its space markers as spaces. */
export function pieceText(tok: Tokenizer, id: number): string {
  const p = tok.idToToken(id);
  if (p === undefined) return `#${id}`;
  return p.replace(/[▁Ġ]/g, ' ').replace(/Ċ/g, '\n');
}

/**
 * The id of a token the user names as text: the vocabulary piece itself (a leading space as
 * the tokenizer's space marker, "▁" or "Ġ"), else the first token of the text's encoding that
 * is not only a space marker (SentencePiece encodes " girl" as "▁", "▁girl").
 */
export function namedToken(tok: Tokenizer, text: string): number | undefined {
  for (const piece of [text, text.replace(/ /g, '▁'), text.replace(/ /g, 'Ġ')]) {
    const id = tok.tokenToId(piece);
    if (id !== undefined) return id;
  }
  const ids = tok.encodeIds(text, { addSpecialTokens: false });
  return ids.find((id) => pieceText(tok, id).trim() !== '') ?? ids[0];
}

/**
 * The ids of a word the user types for logit_bias / bad_words_ids: one vocabulary piece
 * when the text is one (as namedToken reads it), else the text's encoding without special
 * tokens (a sequence: the processor acts on its last id after the others).
 */
export function textIds(tok: Tokenizer, text: string, parameter: string): number[] {
  for (const piece of [text, text.replace(/ /g, '▁'), text.replace(/ /g, 'Ġ')]) {
    const id = tok.tokenToId(piece);
    if (id !== undefined) return [id];
  }
  const ids = tok.encodeIds(text, { addSpecialTokens: false });
  if (!ids.length) throw new RangeError(`${parameter}: "${text}" encodes to no tokens`);
  return ids;
}

/**
 * The panel's specs with their token texts turned into ids: logit_bias `texts` [{text, bias}]
 * join `bias` (keyed "<id,id,…>"), bad_words_ids `words` join `ids`.
 */
export function withTokenTexts(specs: readonly ProcessorSpec[], tok: Tokenizer): ProcessorSpec[] {
  return specs.map((spec) => {
    if (spec.name === 'logit_bias' && Array.isArray(spec.texts)) {
      const bias = { ...(spec.bias as Record<string, number | null>) };
      for (const e of spec.texts as { text: string; bias: number | null }[]) bias[textIds(tok, String(e.text), 'logit_bias').join(',')] = e.bias;
      const { texts: _t, ...rest } = spec;
      return { ...rest, bias };
    }
    if (spec.name === 'bad_words_ids' && Array.isArray(spec.words)) {
      const ids = [...((spec.ids as number[][]) ?? []), ...(spec.words as string[]).map((w) => textIds(tok, String(w), 'bad_words_ids'))];
      const { words: _w, ...rest } = spec;
      return { ...rest, ids };
    }
    return spec;
  });
}

export class LabRunner {
  private running: { id: number; stop: boolean } | undefined;
  /** The early-exit draft model: the loaded weights with fewer layers, on the CPU (kept while the same weights are loaded). */
  private draft: { loaded: LoadedModel; layers: number; backend: Backend } | undefined;
  /** A second registered model as the draft, on the CPU (kept while the same model and context are asked for). */
  private other: { modelId: string; contextLength: number; backend: Backend } | undefined;

  constructor(
    private readonly post: (m: LabWorkerMessage) => void,
    private readonly model: () => LabModel | string,
    private readonly yieldNow: () => Promise<void> = () => new Promise((r) => setTimeout(r, 0)),
    /** Reads another registered model's weights (the session's bridge to the host); absent: only early-exit drafts. */
    private readonly loadWeights?: (spec: ModelLoadSpec) => Promise<LoadedModel>,
  ) {}

  /** The early-exit draft: the loaded weights cut after their first `layers` layers, on the CPU. */
  private async earlyExitDraft(m: LabModel, layers: number): Promise<Backend> {
    const L = m.backend.config.numLayers;
    if (!Number.isSafeInteger(layers) || layers < 1 || layers >= L)
      throw new RangeError(`draft_layers must be a whole number from 1 to ${L - 1} (the model has ${L} layers), got ${layers}`);
    if (m.backend.id === 'ort')
      throw new Error(
        'Speculative decoding here drafts with the loaded model cut to its first layers; an ONNX graph runs whole on onnxruntime-web and cannot be cut. Pick a draft model.',
      );
    if (!m.loaded)
      throw new Error(
        'Speculative decoding here drafts with the loaded model cut to its first layers; this model is too large to keep a second copy of its weights beside the GPU one. Run it on the CPU (Model tab), or pick a draft model.',
      );
    if (this.draft?.loaded !== m.loaded || this.draft.layers !== layers) {
      this.draft?.backend.dispose();
      const cut = { ...m.loaded, config: { ...m.loaded.config, numLayers: layers } };
      this.draft = { loaded: m.loaded, layers, backend: await createBackend('cpu', cut, { contextLength: m.backend.contextLength }) };
    }
    return this.draft.backend;
  }

  /** The draft backend for a second model: same vocabulary as the target, or an error naming both sizes. */
  private async otherDraft(spec: ModelLoadSpec, target: Backend): Promise<Backend> {
    if (this.other?.modelId === spec.modelId && this.other.contextLength === target.contextLength) return this.other.backend;
    if (!this.loadWeights) throw new Error('This worker cannot load a second model as the draft; use the early-exit draft.');
    const loaded = await this.loadWeights(spec);
    const V = target.config.vocabSize;
    if (loaded.config.vocabSize !== V)
      throw new RangeError(
        `The draft model ${spec.name} has a vocabulary of ${loaded.config.vocabSize.toLocaleString('en-US')} tokens and the loaded model has ${V.toLocaleString('en-US')}: speculative decoding needs the same vocabulary.`,
      );
    this.other?.backend.dispose();
    this.other = undefined;
    const backend = await createBackend('cpu', loaded, { contextLength: Math.min(target.contextLength, loaded.config.maxPositions) });
    this.other = { modelId: spec.modelId, contextLength: target.contextLength, backend };
    return backend;
  }

  /** True when the message was the lab's. */
  handle(msg: LabWorkerRequest): boolean {
    if (msg.type === 'labRun') {
      void this.run(msg);
      return true;
    }
    if (msg.type === 'labStop') {
      if (this.running && (msg.id === 0 || msg.id === this.running.id)) this.running.stop = true;
      return true;
    }
    return false;
  }

  async run(msg: LabRun): Promise<void> {
    const m = this.model();
    if (typeof m === 'string') return this.post({ type: 'labError', id: msg.id, message: m });
    if (this.running) this.running.stop = true;
    const job = { id: msg.id, stop: false };
    this.running = job;
    try {
      const { tokenizer: tok, backend } = m;
      if (!Array.isArray(msg.columns) || msg.columns.length === 0 || msg.columns.length > MAX_LAB_COLUMNS) throw new RangeError(`columns: give 1 to ${MAX_LAB_COLUMNS} strategies`);
      if (!Number.isSafeInteger(msg.maxTokens) || msg.maxTokens < 1 || msg.maxTokens > MAX_LAB_TOKENS)
        throw new RangeError(`maxTokens must be a whole number from 1 to ${MAX_LAB_TOKENS}, got ${msg.maxTokens}`);
      if (!Number.isSafeInteger(msg.seed) || msg.seed < 0 || msg.seed > 0xffffffff) throw new RangeError(`seed must be a whole number from 0 to ${0xffffffff}, got ${msg.seed}`);
      if (!Number.isSafeInteger(msg.top) || msg.top < 1 || msg.top > MAX_LAB_TOP) throw new RangeError(`top must be a whole number from 1 to ${MAX_LAB_TOP}, got ${msg.top}`);
      const promptIds = tok.encodeIds(msg.prompt);
      if (promptIds.length === 0 && tok.bosId !== null) promptIds.push(tok.bosId);
      if (promptIds.length === 0) throw new Error('The prompt is empty and this tokenizer has no BOS token to start from.');
      if (promptIds.length >= backend.contextLength) throw new Error(`The prompt is ${promptIds.length} tokens; the context holds ${backend.contextLength}.`);
      let named: { text: string; id: number } | undefined;
      if (msg.named) {
        const id = namedToken(tok, msg.named);
        if (id === undefined) throw new Error(`The pinned token "${msg.named}" is no token of this tokenizer.`);
        named = { text: msg.named, id };
      }
      this.post({ type: 'labStart', id: msg.id, promptIds, promptText: msg.prompt, ...(named ? { named } : {}) });
      const which = msg.only ?? msg.columns.map((_, i) => i);
      for (const c of which) {
        const col = msg.columns[c];
        if (!col) throw new RangeError(`only: column ${c} is not one of the ${msg.columns.length} columns`);
        const t0 = performance.now();
        try {
          const r = job.stop ? { tokens: 0, stopReason: 'cancelled' } : await this.column(msg, c, col, m, promptIds, named?.id, job);
          this.post({ type: 'labColumnDone', id: msg.id, column: c, tokens: r.tokens, stopReason: r.stopReason, ms: performance.now() - t0 });
        } catch (e) {
          this.post({
            type: 'labColumnDone',
            id: msg.id,
            column: c,
            tokens: 0,
            stopReason: 'error',
            ms: performance.now() - t0,
            error: e instanceof Error ? e.message : String(e),
          });
        }
      }
      this.post({ type: 'labDone', id: msg.id });
    } catch (e) {
      this.post({ type: 'labError', id: msg.id, message: e instanceof Error ? e.message : String(e) });
    } finally {
      if (this.running === job) this.running = undefined;
    }
  }

  private async column(
    msg: LabRun,
    c: number,
    col: LabColumn,
    m: LabModel,
    promptIds: number[],
    namedId: number | undefined,
    job: { stop: boolean },
  ): Promise<{ tokens: number; stopReason: string }> {
    const { backend, tokenizer: tok } = m;
    const V = backend.config.vocabSize;
    const forced = col.forced ?? [];
    forced.forEach((id, i) => {
      if (!Number.isSafeInteger(id) || id < 0 || id >= V) throw new RangeError(`forced token ${i} is ${id}, outside the vocabulary [0, ${V})`);
    });
    if (forced.length >= msg.maxTokens) throw new RangeError(`the branch starts at step ${forced.length}, past max new tokens (${msg.maxTokens})`);
    const ctx = { vocabSize: V, eosIds: m.stopIds, promptLength: promptIds.length, seed: msg.seed };
    const specs = withTokenTexts(col.strategy.processors, tok);
    const processors = processorsFromSpecs(specs, ctx);
    // A chain with fresh state (Mirostat keeps state across steps) for each replay.
    const fresh = () => processorsFromSpecs(specs, ctx);
    const opts = { top: msg.top, named: namedId === undefined ? [] : [namedId] };
    const decoder = tok.createStreamDecoder({ context: promptIds });
    const signal = {
      get aborted() {
        return job.stop;
      },
    };
    const send = (step: number, token: number, inspection: StepInspection | undefined, forcedStep: boolean, drafted?: { tokens: number[]; accepted: number }, dec = decoder) => {
      const p: LabPieces = {};
      const name = (id: number) => (p[id] ??= pieceText(tok, id));
      name(token);
      for (const s of inspection?.stages ?? []) for (const x of s.top) name(x.id);
      for (const n of inspection?.named ?? []) name(n.id);
      for (const id of drafted?.tokens ?? []) name(id);
      this.post({
        type: 'labStep',
        id: msg.id,
        column: c,
        step,
        token,
        text: dec.push(token),
        ...(forcedStep ? { forced: true } : {}),
        ...(drafted ? { drafted } : {}),
        ...(inspection ? { inspection } : {}),
        pieces: p,
      });
    };

    // A branch's prefix: the forced ids, each step inspected as if it had been chosen.
    await this.replay(backend, promptIds, forced, (j, ins) => send(j, forced[j], ins, true), fresh, opts);
    const start = [...promptIds, ...forced];
    const s = col.strategy.sampler;
    const left = msg.maxTokens - forced.length;

    if (s.kind === 'beam') {
      const r = await beamSearch(backend, start, {
        numBeams: s.numBeams,
        numReturnSequences: s.numReturnSequences,
        lengthPenalty: s.lengthPenalty,
        earlyStopping: s.earlyStopping,
        numBeamGroups: s.numBeamGroups,
        diversityPenalty: s.diversityPenalty,
        maxNewTokens: left,
        eosIds: m.stopIds,
        processors,
        signal,
      });
      const p: LabPieces = {};
      for (const n of r.tree) if (n.token >= 0) p[n.token] ??= pieceText(tok, n.token);
      const texts = r.sequences.map((q) => tok.decode(q));
      this.post({ type: 'labBeam', id: msg.id, column: c, sequences: r.sequences, scores: r.scores, texts, tree: r.tree, pieces: p });
      // The best sequence's steps, inspected with a fresh chain, so the scrubber and the bars work as for the other columns.
      const best = (r.sequences[0] ?? []).filter((id) => !m.stopIds.includes(id));
      await this.replay(backend, start, best, (j, ins) => send(forced.length + j, best[j], ins, false), fresh, opts);
      return { tokens: forced.length + best.length, stopReason: job.stop ? 'cancelled' : best.length < left ? 'stop' : 'length' };
    }

    if (s.kind === 'speculative') {
      const draft = s.draftModel ? await this.otherDraft(s.draftModel, backend) : await this.earlyExitDraft(m, s.draftLayers);
      const rng = new Rng(msg.seed);
      const passes: { step: number; drafted: { tokens: number[]; accepted: number } }[] = [];
      const it = speculative(backend, draft, {
        promptIds: start,
        maxNewTokens: left,
        eosIds: m.stopIds,
        processors,
        sampler: s.sample ? new MultinomialSampler(rng) : new GreedySampler(),
        rng,
        draftTokens: s.draftTokens,
        signal,
      });
      const ids: number[] = [];
      let summary;
      for (;;) {
        const r = await it.next();
        if (r.done) {
          summary = r.value;
          break;
        }
        const drafted = { tokens: r.value.drafted, accepted: r.value.accepted };
        passes.push({ step: forced.length + ids.length, drafted });
        r.value.ids.forEach((id, k) => send(forced.length + ids.length + k, id, undefined, false, k === 0 ? drafted : undefined));
        ids.push(...r.value.ids);
        await this.yieldNow();
      }
      // Each step's debugger view (the target's distribution), sent again with the pass it came from.
      const dec = tok.createStreamDecoder({ context: start });
      const at = new Map(passes.map((p) => [p.step, p.drafted]));
      await this.replay(backend, start, ids, (j, ins) => send(forced.length + j, ids[j], ins, false, at.get(forced.length + j), dec), fresh, opts);
      return { tokens: forced.length + ids.length, stopReason: summary.stopReason === 'criterion' ? 'stop' : summary.stopReason };
    }

    const sampler = s.kind === 'sample' ? new MultinomialSampler(new Rng(msg.seed)) : new GreedySampler();
    const steps = generate(backend, { promptIds: start, maxNewTokens: left, eosIds: m.stopIds, processors, sampler, inspect: opts, signal });
    let n = forced.length;
    for (;;) {
      const r = await steps.next();
      if (r.done) return { tokens: n, stopReason: r.value.stopReason === 'criterion' ? 'stop' : r.value.stopReason };
      send(forced.length + r.value.step, r.value.id, r.value.inspection, false);
      n++;
      await this.yieldNow(); // lets a labStop in: the loop reads the signal after this record
    }
  }

  /** Runs `prefix` + `path` through the model; calls `onStep` with each path id's inspection (that id as the chosen one). */
  private async replay(
    backend: Backend,
    prefix: readonly number[],
    path: readonly number[],
    onStep: (j: number, ins: StepInspection) => void,
    chain: () => readonly LogitsProcessor[],
    opts: { top: number; named: number[] },
  ): Promise<void> {
    if (path.length === 0) return;
    backend.reset();
    const tokens = [...prefix, ...path];
    if (tokens.length > backend.contextLength) throw new RangeError(`the branch is ${tokens.length} tokens long; the context holds ${backend.contextLength}`);
    const processors = chain();
    // The prefix once, then one id at a time through the KV cache: one row of logits [V] at a time, never [T, V].
    let out = await backend.forward([...prefix], undefined, { lastOnly: true }); // logits [1, V]
    for (let j = 0; j < path.length; j++) {
      onStep(j, inspectStep(tokens.slice(0, prefix.length + j), out.logits.slice(), processors, path[j], opts));
      if (j + 1 < path.length) out = await backend.forward([path[j]], undefined, { lastOnly: true }); // logits [1, V]
    }
    backend.reset();
  }
}
