/**
 * The simulator's clock: a binary min-heap of timed actions. Ties run in the order they were scheduled,
 * so a run is a pure function of its inputs.
 */
interface Entry {
  readonly t: number;
  readonly seq: number;
  readonly run: () => void;
}

export class EventQueue {
  private readonly heap: Entry[] = [];
  private seq = 0;
  /** Simulated time of the action being run (seconds). */
  now = 0;

  get size(): number {
    return this.heap.length;
  }

  /** Runs `run` at time `t` (never before now). */
  at(t: number, run: () => void): void {
    const entry = { t: Math.max(t, this.now), seq: this.seq++, run };
    const h = this.heap;
    h.push(entry);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  /** Time of the next action, or Infinity. */
  peekTime(): number {
    return this.heap.length ? this.heap[0].t : Infinity;
  }

  /** Pops and runs the next action; false when there is none. */
  step(): boolean {
    const h = this.heap;
    if (h.length === 0) return false;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    this.now = top.t;
    top.run();
    return true;
  }

  private less(a: Entry, b: Entry): boolean {
    return a.t < b.t || (a.t === b.t && a.seq < b.seq);
  }
}
