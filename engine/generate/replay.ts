/**
 * Logits for many related sequences through one backend's single KV cache: the cache is
 * truncated to the longest prefix the sequence shares with what it holds, and only the rest
 * runs. Beam search and speculative decoding move between sequences this way.
 */
import type { Backend } from '../backend/contract';

export class Replayer {
  private cached: number[] = [];
  constructor(private readonly backend: Backend) {
    backend.reset();
  }
  /** Positions run by the last call (for cost reports). */
  lastRun = 0;

  /**
   * Logits rows [n, V] predicting the ids after seq[0..from], seq[0..from+1], …, the whole
   * `seq` (n = seq.length − from; from ≥ 0). The cache then holds all of `seq`.
   */
  async rows(seq: readonly number[], from: number): Promise<Float32Array> {
    if (from < 0 || from >= seq.length) throw new RangeError(`replay: row start ${from} outside [0, ${seq.length})`);
    let n = 0;
    const max = Math.min(this.cached.length, from);
    while (n < max && this.cached[n] === seq[n]) n++;
    this.backend.truncate(n);
    const want = seq.length - from;
    const out = await this.backend.forward(seq.slice(n), undefined, { lastOnly: want === 1 });
    this.cached = seq.slice();
    this.lastRun = seq.length - n;
    return out.logits.slice((out.rows - want) * out.vocab, out.rows * out.vocab);
  }

  /** The next-token logits [V] after `seq`. */
  logits(seq: readonly number[]): Promise<Float32Array> {
    return this.rows(seq, seq.length - 1);
  }
}
