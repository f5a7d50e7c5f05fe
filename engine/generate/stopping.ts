/**
 * Stopping criteria. The decode loop (generate.ts) always stops at the token budget, at
 * an end-of-sequence id and when the cache is full; a StoppingCriterion adds any other
 * rule. Stop strings work on the streamed text through StopStringFilter.
 */

/** Why a generation ended. */
export type StopReason = 'stop' | 'length' | 'context' | 'stopString' | 'criterion' | 'cancelled';

/** A custom rule, asked after each new id; true ends generation after that id. */
export interface StoppingCriterion {
  readonly name: string;
  shouldStop(state: { readonly ids: readonly number[]; readonly newIds: readonly number[]; readonly text: string }): boolean;
}

/**
 * Stop strings for streamed generation: text is released as soon as it can no
 * longer be the start of a stop string; when a stop string appears, the output
 * ends just before it.
 */
export class StopStringFilter {
  private held = '';
  private stopped = false;
  constructor(private readonly stops: readonly string[]) {
    this.stops = stops.filter((s) => s.length > 0);
  }

  get done(): boolean {
    return this.stopped;
  }

  /** Adds newly decoded text; returns what may be shown now. */
  push(text: string): string {
    if (this.stopped) return '';
    this.held += text;
    let cut = -1;
    for (const s of this.stops) {
      const i = this.held.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) {
      this.stopped = true;
      const out = this.held.slice(0, cut);
      this.held = '';
      return out;
    }
    // Hold back the longest suffix that is a proper prefix of a stop string.
    let keep = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, this.held.length); n > keep; n--) {
        if (this.held.endsWith(s.slice(0, n))) {
          keep = n;
          break;
        }
      }
    }
    const out = this.held.slice(0, this.held.length - keep);
    this.held = this.held.slice(this.held.length - keep);
    return out;
  }

  /** The end of generation: whatever was held back (it did not become a stop string). */
  flush(): string {
    const out = this.stopped ? '' : this.held;
    this.held = '';
    return out;
  }
}
