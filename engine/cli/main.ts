/**
 * llm-playground — the engine from the command line.
 *
 *   inspect  <model>                                  what a model file holds
 *   tokenize --tokenizer <file|model|builtin> --text <s>  ids, tokens, offsets
 *   train-bpe --input <file|folder> --vocab-size N --out tokenizer.json
 *   generate [--model <path>] (--prompt <s> | --ids 1,2,3) --max-tokens N --temperature 0
 *   forward  --model <path> --ids 1,2,3 [--lora <dir>] [--attentions] [--logit-lens] [--router]
 *   export   --model <path> --format gguf|safetensors|onnx --out <path> [--dtype f32|f16|q8_0]
 *
 * Every command takes --json: one object on stdout with stable keys.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { FormatError } from '../errors';
import { openModel, openModelLazily, opensLazily } from '../formats/load-node';
import { backendKind } from '../backend/registry';
import type { Backend } from '../backend/contract';
import { generate } from '../generate/generate';
import { processorsFromOptions, samplerFromOptions, SAMPLING_OPTIONS, type ProcessorOptions } from '../generate/options';
import { ParameterRangeError, type LogitsProcessor } from '../generate/processors';
import { Rng } from '../generate/rng';
import { GreedySampler, MultinomialSampler } from '../generate/samplers';
import { BUILTIN_TOKENIZERS } from '../tokenizer/builtin';
import { cmdTrainBpe, TrainUsageError } from './train-bpe';
import { describeModel, type ModelDescription } from './describe';
import { UsageError } from './errors';
import { beamFlags, cmdCompare, cmdProcess, inspectOption, LAB_FLAGS, LAB_USAGE, labDecoding, openDraft, runBeam, runSpeculative, traceRecord } from './lab';
import { cmdKv, KvUsageError } from './kv';
import {
  backendOpt,
  checkIds,
  floatOpt,
  GpuUnavailableError,
  intOpt,
  kvDtypeOpt,
  openBackend,
  parse,
  parseIds,
  releaseHostWeights,
  threadsOpt,
  weightsOpt,
  type Out,
} from './common';
import { cmdForward } from './forward';
import { cmdExport, EXPORT_USAGE } from './export';
import { cmdTokenize } from './tokenize';
import { Interrupted, interruptible, loadProgress, PREFILL_CHUNK, prefillProgress } from './interrupt';
import { loadTrace } from './trace-load';

export { checkForwardOutput, MAX_FORWARD_JSON_BYTES } from './forward';
export { encodeArray, GpuUnavailableError } from './common';
export { UsageError };
const USAGE = `usage: llm-playground <command> [options]

commands:
  inspect <model> [--tokenizer <file>] [--json]
  tokenize --tokenizer <file|model|builtin> (--text <s> | --file <text file>) [--no-special] [--json]
           builtin: ${BUILTIN_TOKENIZERS.map((b) => b.id).join(', ')}
  train-bpe --input <file|folder> [--vocab-size N] --out <tokenizer.json> [--json]
  generate [--model <path>] [--tokenizer <file>] (--prompt <s> | --ids 1,2,3)
           [--max-tokens N] [--temperature T] [--seed S] [--context N] [--backend cpu|webgpu|ort]
           [--weights auto|f32|f16] [--kv-dtype f32|int8] [--threads N] [--ignore-eos] [--trace-load] [--json]
           [--top-k K] [--top-p P] [--min-p P] [--typical-p P] [--epsilon E] [--eta E]
           [--repetition-penalty R] [--no-repeat-ngram N]
${LAB_USAGE}
  forward --model <path> --ids 1,2,3 [--lora <adapter folder>] [--attentions [--out <file.npy|file.safetensors>]] [--logit-lens] [--router]
          [--backend cpu|webgpu|ort] [--kv-dtype f32|int8] [--threads N] [--json]
  kv --model <path> --context N [--backend cpu|webgpu] [--kv-dtype f32|int8] [--json]   the engine's KV cache: predicted and allocated
  kv --config <config.json|built-in> [--context N] [--batch B] [--kv-dtype f32|f16|int8|int4|q8_0]
     [--attention config|mha|gqa|mqa|mla] [--kv-heads K] [--window W] [--window-layers config|all|alternate]
     [--block-size B] [--weight-dtype f32|f16|int8|int4] [--gpu <name>|<GiB>] [--json]   what-ifs; kv --list
${EXPORT_USAGE}

A model path is an HF folder, a .safetensors file beside its config.json, a .gguf,
or a llama2.c .bin (its tokenizer: --tokenizer, or tokenizer.bin / tok*.bin beside it),
or a .onnx decoder (run by onnxruntime-web, --backend ort, the default for it).
generate without --model runs the bundled stories260K. --backend webgpu runs the WGSL
engine through the webgpu package (Dawn), weights as f16 on the GPU when the file's are
16-bit or quantised (--weights); greedy decoding there keeps steps queued on the GPU.
--ignore-eos generates --max-tokens tokens whatever comes. --trace-load prints to stderr, one line
each, the ms since the process started at each step of the load (file parsed, device opened,
pipelines compiled, upload done with the host's split of it, first prefill submitted, first token).
forward --attentions --out writes the attention probabilities [L, H, T, T] (float32) to a .npy
or .safetensors file instead of the JSON.
A prompt of more than ${PREFILL_CHUNK} ids runs in chunks of ${PREFILL_CHUNK}, with progress on stderr; Ctrl-C
stops at the end of a chunk (exit code 130). Without a GPU set
VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json.

generate decodes greedily by default. --temperature T > 0 samples (seeded by --seed, default 1);
--top-k, --top-p, --min-p, --typical-p, --epsilon and --eta sample too, at temperature 1 unless
--temperature is given. --repetition-penalty and --no-repeat-ngram apply to greedy decoding as
well. The processors run in Hugging Face's order (penalty, n-gram, temperature, top-k, top-p,
min-p, typical, epsilon, eta) with its semantics.`;

/** The bundled model: models/ beside dist/ (the CLI bundle) or beside engine/ (sources). */
export function bundledModelPath(): string {
  const candidates = [path.resolve(__dirname, '../models/stories260K.bin'), path.resolve(__dirname, '../../models/stories260K.bin')];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new UsageError(`the bundled model is missing (looked in ${candidates.join(', ')})`);
  return found;
}

async function cmdInspect(argv: string[], out: Out): Promise<void> {
  const { values, positionals } = parse(argv, { tokenizer: { type: 'string' }, model: { type: 'string' } });
  const p = (values.model as string | undefined) ?? positionals[0];
  if (!p) throw new UsageError('inspect needs a model path');
  const d: ModelDescription = await describeModel(p, { tokenizer: values.tokenizer as string | undefined });
  if (values.json) return out(JSON.stringify(d));
  out(
    [
      `${d.path}`,
      `  format        ${d.format}  (${d.dtypes.join(', ')} on disk, ${d.fileBytes.toLocaleString('en')} bytes)`,
      `  architecture  ${d.architecture}`,
      `  parameters    ${d.parameters.toLocaleString('en')}`,
      `  layers        ${d.config.numLayers}, hidden ${d.config.hiddenSize}, heads ${d.config.numHeads} (kv ${d.config.numKvHeads}), head dim ${d.config.headDim}, mlp ${d.config.intermediateSize}`,
      `  vocabulary    ${d.config.vocabSize}; tokenizer ${d.tokenizer ? `${d.tokenizer.kind} from ${d.tokenizer.source}` : 'none found (pass --tokenizer)'}`,
      `  context       ${d.config.maxPositions}`,
      `  positions     ${d.config.positions === 'rope' ? `RoPE θ=${d.config.rope!.theta} ${d.config.rope!.scaling.type} (${d.config.rope!.style})` : 'learned'}`,
      `  KV cache      ${d.kvBytesPerToken.toLocaleString('en')} bytes per token (f32)`,
      d.config.moe ? `  MoE           ${d.config.moe.numExperts} experts, top-${d.config.moe.topK}` : '',
      d.config.slidingWindow ? `  sliding window ${d.config.slidingWindow}` : '',
    ]
      .filter(Boolean)
      .join('\n'),
  );
}

/** generate's processor flags and the ProcessorOptions each sets. */
const PROCESSOR_FLAGS = {
  'top-k': 'topK',
  'top-p': 'topP',
  'min-p': 'minP',
  'typical-p': 'typicalP',
  epsilon: 'epsilon',
  eta: 'eta',
  'repetition-penalty': 'repetitionPenalty',
  'no-repeat-ngram': 'noRepeatNgramSize',
} as const satisfies Record<string, keyof ProcessorOptions>;

/**
 * generate's decoding flags as ProcessorOptions, every value checked (a UsageError naming
 * the flag). Greedy unless --temperature > 0 or a sampling flag is given (then temperature
 * defaults to 1); a sampling flag with --temperature 0 is an error rather than ignored.
 */
function decodingOptions(values: Record<string, string | undefined>): { options: ProcessorOptions; processors: LogitsProcessor[] } {
  const o: ProcessorOptions = {};
  const flagOf = new Map<string, string>([['temperature', 'temperature']]);
  for (const [flag, key] of Object.entries(PROCESSOR_FLAGS)) {
    flagOf.set(key, flag);
    const s = values[flag];
    if (s === undefined) continue;
    const n = s.trim() === '' ? NaN : Number(s);
    if (!Number.isFinite(n)) throw new UsageError(`--${flag} must be a number, got "${s}"`);
    o[key] = n;
  }
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) throw new UsageError(`--top-p must be a number in (0, 1], got ${values['top-p']}`);
  const sampling = SAMPLING_OPTIONS.filter((k) => o[k] !== undefined);
  o.temperature = floatOpt(values.temperature, 'temperature', sampling.length ? 1 : 0);
  if (o.temperature === 0 && sampling.length) throw new UsageError(`--${flagOf.get(sampling[0])} samples, but --temperature 0 decodes greedily; give a temperature > 0 or drop it`);
  try {
    return { options: o, processors: processorsFromOptions(o) };
  } catch (e) {
    if (e instanceof ParameterRangeError) throw new UsageError(`--${flagOf.get(e.parameter) ?? e.parameter} must be ${e.expected}, got ${String(e.got)}`);
    throw e;
  }
}

async function cmdGenerate(argv: string[], out: Out): Promise<void> {
  const { values } = parse(argv, {
    model: { type: 'string' },
    tokenizer: { type: 'string' },
    prompt: { type: 'string' },
    ids: { type: 'string' },
    'max-tokens': { type: 'string' },
    temperature: { type: 'string' },
    seed: { type: 'string' },
    context: { type: 'string' },
    backend: { type: 'string' },
    weights: { type: 'string' },
    'kv-dtype': { type: 'string' },
    threads: { type: 'string' },
    'ignore-eos': { type: 'boolean' },
    'trace-load': { type: 'boolean' },
    trace: { type: 'boolean' },
    ...LAB_FLAGS,
    ...Object.fromEntries(Object.keys(PROCESSOR_FLAGS).map((f) => [f, { type: 'string' as const }])),
  });
  if (values.prompt !== undefined && values.ids !== undefined) throw new UsageError('give --prompt or --ids, not both');
  if (values.prompt === undefined && values.ids === undefined) throw new UsageError('generate needs --prompt <text> or --ids 1,2,3');
  const modelPath = (values.model as string | undefined) ?? bundledModelPath();
  const maxTokens = intOpt(values['max-tokens'] as string | undefined, 'max-tokens', 64);
  const { options: decoding, processors } = decodingOptions(values as Record<string, string | undefined>);
  const seed = intOpt(values.seed as string | undefined, 'seed', 1);
  const asked = values.backend as string | undefined;
  // A device backend reads the weights from the file as it uploads them (no f32 copy on the host), where the format opens lazily.
  const lazily = asked !== undefined && backendKind(backendOpt(asked)).needsGpuDevice && (await opensLazily(modelPath));
  const loadTraced = loadTrace(Boolean(values['trace-load']));
  const m = lazily
    ? await openModelLazily(modelPath, { tokenizer: values.tokenizer as string | undefined })
    : await openModel(modelPath, { tokenizer: values.tokenizer as string | undefined });
  loadTraced?.mark('file opened and parsed');
  const model = 'lazy' in m ? m.lazy : m.loaded;
  const c = model.config;
  let promptIds: number[];
  if (values.ids !== undefined) {
    promptIds = parseIds(values.ids as string, '--ids');
  } else {
    if (!m.tokenizer) throw new UsageError(`${modelPath}: no tokenizer comes with this model; pass --tokenizer <file> or use --ids`);
    promptIds = m.tokenizer.encodeIds(values.prompt as string, { addSpecialTokens: true });
    if (promptIds.length === 0 && c.bosTokenId !== undefined) promptIds = [c.bosTokenId];
  }
  if (promptIds.length === 0) throw new UsageError('the prompt encodes to no tokens');
  checkIds(promptIds, c.vocabSize, 'prompt');
  const context = intOpt(values.context as string | undefined, 'context', Math.min(c.maxPositions, promptIds.length + maxTokens), 1);
  if (context > c.maxPositions) throw new UsageError(`--context ${context} is beyond the model's ${c.maxPositions} positions`);
  if (promptIds.length + maxTokens > context) throw new UsageError(`prompt (${promptIds.length} tokens) + --max-tokens ${maxTokens} exceed the context ${context}`);
  const weights = weightsOpt(values.weights as string | undefined, model);
  const kvDtype = kvDtypeOpt(values['kv-dtype'] as string | undefined);
  const backendId = backendOpt(asked, 'lazy' in m ? undefined : m.loaded);
  const threads = threadsOpt(values.threads as string | undefined, backendId);
  let backend: Backend;
  if ('lazy' in m) {
    const load = interruptible();
    try {
      backend = await openBackend(backendId, m.lazy, context, weights, kvDtype, { onProgress: loadProgress(), onPhase: loadTraced?.onPhase, signal: load.signal }, threads);
    } finally {
      load.dispose();
      await m.lazy.close();
    }
  } else {
    backend = await openBackend(backendId, m.loaded, context, weights, kvDtype, { onPhase: loadTraced?.onPhase }, threads);
    if (backendKind(backend.id).needsGpuDevice) releaseHostWeights(m.loaded);
  }
  const eosIds = values['ignore-eos'] ? [] : (c.stopTokenIds ?? c.eosTokenIds);
  const lab = labDecoding(values, decoding, { vocabSize: c.vocabSize, eosIds, promptLength: promptIds.length, seed });
  const chain = lab?.processors ?? processors;
  const sampler = lab ? (lab.sampling ? new MultinomialSampler(new Rng(seed)) : new GreedySampler()) : samplerFromOptions(decoding, new Rng(seed));
  const beams = beamFlags(values);
  const labRun = { backend, promptIds, maxTokens, eosIds, processors: chain, sampling: !sampler.greedy, seed };
  if (beams || values['draft-model'] !== undefined) {
    // Beam search and speculative decoding: whole results rather than a stream of steps.
    try {
      const head = { prompt_ids: promptIds, processors: chain.map((p) => p.name) };
      if (beams && values['draft-model'] !== undefined) throw new UsageError('give --num-beams or --draft-model, not both');
      if (beams) {
        const { json, result } = await runBeam(labRun, beams);
        if (values.json)
          return out(
            JSON.stringify({ ...head, ...json, text: m.tokenizer?.decode(result.sequences[0] ?? []) ?? '', sampler: 'beam', ...(values.trace ? { beam_tree: result.tree } : {}) }),
          );
        result.sequences.forEach((ids, i) => out(`[${result.scores[i].toFixed(4)}] ${m.tokenizer ? JSON.stringify(m.tokenizer.decode(ids)) : ids.join(',')}`));
        return;
      }
      const d = await openDraft(values['draft-model'] as string, c.vocabSize, m.tokenizer);
      const draft = await openBackend(backend.id, d.loaded, context, weights, kvDtype, {}, threads);
      try {
        const k = intOpt(values['draft-tokens'] as string | undefined, 'draft-tokens', 4, 1);
        const { summary, json } = await runSpeculative(labRun, draft, k);
        const text = m.tokenizer ? m.tokenizer.decode(summary.ids) : '';
        if (values.json) return out(JSON.stringify({ ...head, generated_ids: summary.ids, text, stop_reason: summary.stopReason, sampler: sampler.name, ...json }));
        out(m.tokenizer ? text : summary.ids.join(','));
        const sp = json.speculative as { drafted: number; accepted: number };
        process.stderr.write(`[${summary.ids.length} tokens; drafted ${sp.drafted}, accepted ${sp.accepted}]\n`);
        return;
      } finally {
        draft.dispose();
      }
    } finally {
      backend.dispose();
    }
  }
  const intr = interruptible();
  const progress = prefillProgress(promptIds.length);
  const steps = generate(backend, {
    promptIds,
    maxNewTokens: maxTokens,
    eosIds,
    processors: chain,
    sampler,
    tokenizer: m.tokenizer,
    inspect: inspectOption(values, c.vocabSize),
    signal: intr.signal,
    prefill: {
      chunk: PREFILL_CHUNK,
      onChunk: async (done) => {
        progress(done);
        await intr.breathe();
      },
    },
  });
  const trace: Record<string, unknown>[] = [];
  let firstToken = false;
  let r;
  try {
    for (;;) {
      r = await steps.next();
      if (r.done) break;
      if (!firstToken) {
        firstToken = true;
        loadTraced?.mark('first token');
      }
      if (values.trace) trace.push(traceRecord(r.value));
      if (!values.json && m.tokenizer) process.stdout.write(r.value.text);
      await intr.breathe();
    }
  } finally {
    intr.dispose();
    backend.dispose();
  }
  if (r.value.stopReason === 'cancelled') {
    if (!values.json && m.tokenizer) process.stdout.write('\n');
    throw new Interrupted(
      r.value.ids.length
        ? `stopped by Ctrl-C after ${r.value.ids.length} generated tokens`
        : `stopped by Ctrl-C during the prefill of ${promptIds.length.toLocaleString('en')} prompt tokens`,
    );
  }
  const g = r.value;
  if (values.json) {
    return out(
      JSON.stringify({
        prompt_ids: promptIds,
        generated_ids: g.ids,
        text: m.tokenizer ? m.tokenizer.decode(g.ids) : '',
        stop_reason: g.stopReason,
        prefill_ms: +g.prefillMs.toFixed(3),
        decode_tokens_per_s: +g.decodeTokensPerSec.toFixed(2),
        decode_path: g.path,
        processors: chain.map((p) => p.name),
        sampler: sampler.name,
        ...(values.trace ? { steps: trace } : {}),
      }),
    );
  }
  if (m.tokenizer) process.stdout.write(g.tail);
  else out(g.ids.join(','));
  out('');
  process.stderr.write(`[${g.ids.length} tokens, ${g.decodeTokensPerSec.toFixed(1)} tok/s decode, stop: ${g.stopReason}]\n`);
}

export async function main(argv: string[], out: Out = (s) => console.log(s)): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help' || rest.includes('--help') || rest.includes('-h')) {
      out(USAGE);
      return cmd ? 0 : 2;
    }
    switch (cmd) {
      case 'inspect':
        await cmdInspect(rest, out);
        return 0;
      case 'train-bpe':
        await cmdTrainBpe(rest, out);
        return 0;
      case 'tokenize':
        await cmdTokenize(rest, out);
        return 0;
      case 'generate':
        await cmdGenerate(rest, out);
        return 0;
      case 'forward':
        await cmdForward(rest, out);
        return 0;
      case 'process':
        await cmdProcess(parse(rest, { input: { type: 'string' } }).values, out);
        return 0;
      case 'compare':
        await cmdCompare(parse(rest, { config: { type: 'string' } }).values, out, {
          bundledModel: bundledModelPath,
          openBackend: (m, context) => openBackend(backendOpt(undefined, m.loaded), m.loaded, context),
        });
        return 0;
      case 'export':
        await cmdExport(rest, out);
        return 0;
      case 'kv':
        await cmdKv(rest, out, (id, loaded, ctx, kvDtype) => openBackend(id, loaded, ctx, undefined, kvDtype));
        return 0;
      default:
        throw new UsageError(`unknown command "${cmd}" (expected inspect, tokenize, train-bpe, generate, forward, process, compare, kv or export)`);
    }
  } catch (e) {
    if (e instanceof Interrupted) {
      process.stderr.write(`llm-playground: ${e.message}\n`);
      return 130;
    }
    if (e instanceof UsageError || e instanceof TrainUsageError || e instanceof KvUsageError) {
      process.stderr.write(`llm-playground: ${e.message}\nRun "llm-playground --help" for usage.\n`);
      return 2;
    }
    if (e instanceof FormatError || e instanceof RangeError || e instanceof GpuUnavailableError) {
      process.stderr.write(`llm-playground: ${e.message}\n`);
      return 1;
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
      process.stderr.write(`llm-playground: ${(e as Error).message}\n`);
      return 1;
    }
    throw e;
  }
}

if (typeof require !== 'undefined' && require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`llm-playground: internal error: ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exitCode = 70;
    },
  );
}
