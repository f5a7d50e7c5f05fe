/** The post-processors of a Hugging Face tokenizer.json, each built from its JSON and behaving as in HF tokenizers (Rust). */
import { type Json, JsonReader } from './json';
import { BYTE_TO_CHAR, isWhitespace } from './unicode';

/** A single-sequence encoding inside the pipeline; offsets are code points, flat [s0, e0, s1, e1, …]. */
export interface WorkEncoding {
  ids: number[];
  tokens: string[];
  offsets: number[];
}

export interface PostProcessor {
  process(enc: WorkEncoding, addSpecialTokens: boolean): WorkEncoding;
  /** Ids only (offset trimming does not change ids). */
  processIds(ids: number[], addSpecialTokens: boolean): number[];
  /** Ids this processor puts before the sequence when adding special tokens (for bosId). */
  readonly prefixIds: number[];
  readonly suffixIds: number[];
}

const BL_SPACE = String.fromCharCode(BYTE_TO_CHAR[0x20]!);

/** HF `process_offsets` (ByteLevel / Roberta trim_offsets). */
function trimOffsets(enc: WorkEncoding, addPrefixSpace: boolean): void {
  for (let i = 0; i < enc.tokens.length; i++) {
    const chars = [...enc.tokens[i]!];
    const isSp = (c: string): boolean => c === BL_SPACE || isWhitespace(c.codePointAt(0)!);
    let lead = 0;
    while (lead < chars.length && isSp(chars[lead]!)) lead++;
    let trail = 0;
    for (let k = chars.length - 1; k >= 0 && isSp(chars[k]!); k--) trail++;
    if (lead === 0 && trail === 0) continue;
    let s = enc.offsets[2 * i]!;
    let e = enc.offsets[2 * i + 1]!;
    if (lead > 0) {
      const isFirst = i === 0 || s === 0;
      if (isFirst && addPrefixSpace && lead === 1) lead = 0;
      s = Math.min(s + lead, e);
    }
    if (trail > 0 && e >= trail) e = Math.max(e - trail, s);
    enc.offsets[2 * i] = s;
    enc.offsets[2 * i + 1] = e;
  }
}

function wrapIds(ids: number[], before: [number, string][], after: [number, string][], add: boolean): number[] {
  if (!add || (before.length === 0 && after.length === 0)) return ids;
  const out: number[] = before.map((x) => x[0]);
  for (let i = 0; i < ids.length; i++) out.push(ids[i]!);
  for (const x of after) out.push(x[0]);
  return out;
}

function wrap(enc: WorkEncoding, before: [number, string][], after: [number, string][]): WorkEncoding {
  const ids: number[] = [];
  const tokens: string[] = [];
  const offsets: number[] = [];
  for (const [id, t] of before) {
    ids.push(id);
    tokens.push(t);
    offsets.push(0, 0);
  }
  for (let i = 0; i < enc.ids.length; i++) {
    ids.push(enc.ids[i]!);
    tokens.push(enc.tokens[i]!);
    offsets.push(enc.offsets[2 * i]!, enc.offsets[2 * i + 1]!);
  }
  for (const [id, t] of after) {
    ids.push(id);
    tokens.push(t);
    offsets.push(0, 0);
  }
  return { ids, tokens, offsets };
}

/** A post-processor that adds fixed tokens around the sequence (TemplateProcessing for one sequence). */
export function fixedPostProcessor(before: [number, string][], after: [number, string][]): PostProcessor {
  return {
    prefixIds: before.map((x) => x[0]),
    suffixIds: after.map((x) => x[0]),
    process(enc, add) {
      return add ? wrap(enc, before, after) : enc;
    },
    processIds: (ids, add) => wrapIds(ids, before, after, add),
  };
}

function readTokIdPair(r: JsonReader, v: Json | undefined, key: string): [number, string] {
  const a = r.arr(v, key);
  return [r.tokenId(a[1], `${key}[1]`), r.str(a[0], `${key}[0]`)];
}

export function buildPostProcessor(r: JsonReader, v: Json | undefined, key: string): PostProcessor | null {
  if (v === undefined || v === null) return null;
  const o = r.obj(v, key);
  const type = r.str(o.type, `${key}.type`);
  switch (type) {
    case 'ByteLevel': {
      const trim = r.bool(o.trim_offsets, `${key}.trim_offsets`, true);
      const aps = r.bool(o.add_prefix_space, `${key}.add_prefix_space`, true);
      return {
        prefixIds: [],
        suffixIds: [],
        process(enc) {
          if (trim) trimOffsets(enc, aps);
          return enc;
        },
        processIds: (ids) => ids,
      };
    }
    case 'TemplateProcessing': {
      const single = r.arr(o.single, `${key}.single`);
      const specials = r.obj(o.special_tokens ?? {}, `${key}.special_tokens`);
      type Item = { kind: 'seq' } | { kind: 'special'; ids: number[]; tokens: string[] };
      const items: Item[] = single.map((it, i) => {
        const k = `${key}.single[${i}]`;
        const io = r.obj(it, k);
        if (io.Sequence !== undefined) {
          const sid = r.str(r.obj(io.Sequence, `${k}.Sequence`).id, `${k}.Sequence.id`);
          if (sid !== 'A') throw r.unsupported('only sequence A can appear in a single template', `${k}.Sequence.id`, sid);
          return { kind: 'seq' };
        }
        if (io.SpecialToken !== undefined) {
          const name = r.str(r.obj(io.SpecialToken, `${k}.SpecialToken`).id, `${k}.SpecialToken.id`);
          const spec = specials[name];
          if (spec === undefined) throw r.error('special token used by the template is not defined', `${key}.special_tokens`, `an entry "${name}"`);
          const so = r.obj(spec, `${key}.special_tokens.${name}`);
          const ids = r.arr(so.ids, `${key}.special_tokens.${name}.ids`).map((x, j) => r.tokenId(x, `${key}.special_tokens.${name}.ids[${j}]`));
          const toks = r.arr(so.tokens, `${key}.special_tokens.${name}.tokens`).map((x, j) => r.str(x, `${key}.special_tokens.${name}.tokens[${j}]`));
          if (ids.length !== toks.length) throw r.error('ids and tokens differ in length', `${key}.special_tokens.${name}`);
          return { kind: 'special', ids, tokens: toks };
        }
        throw r.error('wrong value', k, '{"Sequence": …} or {"SpecialToken": …}', it);
      });
      const seqAt = items.findIndex((x) => x.kind === 'seq');
      const collect = (list: Item[]): [number, string][] => list.flatMap((x) => (x.kind === 'special' ? x.ids.map((id, j): [number, string] => [id, x.tokens[j]!]) : []));
      const before = collect(seqAt < 0 ? items : items.slice(0, seqAt));
      const after = collect(seqAt < 0 ? [] : items.slice(seqAt + 1));
      return {
        prefixIds: before.map((x) => x[0]),
        suffixIds: after.map((x) => x[0]),
        process(enc, add) {
          if (!add) return enc;
          return wrap(enc, before, after);
        },
        processIds: (ids, add) => wrapIds(ids, before, after, add),
      };
    }
    case 'RobertaProcessing': {
      const sep = readTokIdPair(r, o.sep, `${key}.sep`);
      const cls = readTokIdPair(r, o.cls, `${key}.cls`);
      const trim = r.bool(o.trim_offsets, `${key}.trim_offsets`, true);
      const aps = r.bool(o.add_prefix_space, `${key}.add_prefix_space`, true);
      return {
        prefixIds: [cls[0]],
        suffixIds: [sep[0]],
        process(enc, add) {
          if (trim) trimOffsets(enc, aps);
          return add ? wrap(enc, [cls], [sep]) : enc;
        },
        processIds: (ids, add) => wrapIds(ids, [cls], [sep], add),
      };
    }
    case 'BertProcessing': {
      const sep = readTokIdPair(r, o.sep, `${key}.sep`);
      const cls = readTokIdPair(r, o.cls, `${key}.cls`);
      return {
        prefixIds: [cls[0]],
        suffixIds: [sep[0]],
        process(enc, add) {
          return add ? wrap(enc, [cls], [sep]) : enc;
        },
        processIds: (ids, add) => wrapIds(ids, [cls], [sep], add),
      };
    }
    case 'Sequence': {
      const list = r.arr(o.processors, `${key}.processors`);
      const procs = list.map((p, i) => buildPostProcessor(r, p, `${key}.processors[${i}]`)).filter((p): p is PostProcessor => p !== null);
      return {
        prefixIds: procs.flatMap((p) => p.prefixIds),
        suffixIds: procs.flatMap((p) => p.suffixIds),
        process(enc, add) {
          for (const p of procs) enc = p.process(enc, add);
          return enc;
        },
        processIds(ids, add) {
          for (const p of procs) ids = p.processIds(ids, add);
          return ids;
        },
      };
    }
    default:
      throw r.unsupported(`post-processor type "${type}" is not supported`, `${key}.type`, type);
  }
}
