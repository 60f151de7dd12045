import { QueueScheduler } from '../../worker/scheduler';

describe('QueueScheduler', () => {
  test('polls highest priority first while nothing starves', () => {
    const s = new QueueScheduler(3, 5);
    expect(s.order()).toEqual([0, 1, 2]);
    s.record(0, 0);
    expect(s.order()).toEqual([0, 1, 2]);
  });

  test('starvation guard: a lower queue passed over `limit` rounds while a higher one served is polled first', () => {
    // GIVEN high always has work
    const s = new QueueScheduler(2, 3);
    const served: number[] = [];
    for (let round = 0; round < 12; round++) {
      const order = s.order();
      // both queues have work: the first polled one serves
      served.push(order[0]);
      s.record(order[0], order[0]);
    }
    // THEN normal gets one round in every four
    expect(served).toEqual([0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]);
  });

  test('a promoted queue that turns out empty goes back to its place; an empty round resets the guard', () => {
    const s = new QueueScheduler(3, 2);
    s.record(0, 0);
    s.record(0, 0);
    expect(s.order()).toEqual([1, 0, 2]); // 1 and 2 both starve; the higher one first, tie broken by priority
    s.record(1, 0); // 1 was empty, 0 served
    expect(s.order()).toEqual([2, 0, 1]);
    s.record(2, undefined);
    expect(s.order()).toEqual([0, 1, 2]);
  });

  test('the most starved queue wins when several are over the limit', () => {
    const s = new QueueScheduler(3, 1);
    s.record(0, 1); // 2 skipped once
    s.record(0, 0); // 1 skipped once, 2 twice
    expect(s.order()).toEqual([2, 0, 1]);
  });

  test('fails if there is no queue', () => {
    expect(() => new QueueScheduler(0, 5)).toThrow(/at least one queue/);
  });
});
