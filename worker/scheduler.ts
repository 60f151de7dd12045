/**
 * Which queue a receive round polls first. Queues are polled highest priority first; a starvation guard
 * promotes a lower-priority queue to the front once it has been passed over `starvationLimit` rounds in a
 * row while a higher one served, so normal jobs still progress under a flood of high ones. Pure.
 */
export class QueueScheduler {
  /** Per queue: rounds in a row served by a higher-priority queue. */
  private readonly skipped: number[];

  constructor(
    private readonly queueCount: number,
    private readonly starvationLimit: number,
  ) {
    if (queueCount < 1) throw new Error('QueueScheduler needs at least one queue');
    this.skipped = new Array<number>(queueCount).fill(0);
  }

  /** Queue indexes in the order this round polls them. */
  order(): number[] {
    let starved = -1;
    for (let i = 1; i < this.queueCount; i++) {
      if (this.skipped[i] >= this.starvationLimit && (starved < 0 || this.skipped[i] > this.skipped[starved])) starved = i;
    }
    const natural = [...Array(this.queueCount).keys()];
    return starved < 0 ? natural : [starved, ...natural.filter((i) => i !== starved)];
  }

  /**
   * Outcome of a round: `first` is the queue polled first, `served` the queue messages came from
   * (undefined when every queue was empty).
   */
  record(first: number, served: number | undefined): void {
    if (served === undefined) {
      this.skipped.fill(0);
      return;
    }
    for (let i = served + 1; i < this.queueCount; i++) this.skipped[i] += 1;
    this.skipped[served] = 0;
    // A promoted queue that had nothing was not starving: it goes back to its place.
    if (first !== served) this.skipped[first] = 0;
  }
}
