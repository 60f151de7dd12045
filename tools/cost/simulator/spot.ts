/**
 * Spot interruptions: a constant hazard per instance-hour from launch, a 120 s notice (IMDS
 * `spot/instance-action` and the EventBridge warning), and a share of notices nobody sees (the instance
 * just disappears at the end of the notice).
 */
import { exponential, RandomStream } from './rng';

export interface Interruption {
  /** Seconds after launch when the notice is issued (Infinity: never). */
  readonly noticeAfterS: number;
  /** True when neither the worker nor the drainer sees the notice. */
  readonly missed: boolean;
}

export class SpotModel {
  private readonly timeStream: RandomStream;
  private readonly missStream: RandomStream;

  constructor(
    seed: number,
    readonly interruptionsPerHour: number,
    readonly missedNoticeShare: number,
    readonly noticeS = 120,
  ) {
    this.timeStream = new RandomStream(seed, 'interruption-time');
    this.missStream = new RandomStream(seed, 'interruption-missed');
  }

  /** The interruption of the k-th spot instance a policy launches (the same k for every policy). */
  interruption(k: number): Interruption {
    return {
      noticeAfterS: exponential(this.timeStream.at(k), this.interruptionsPerHour / 3600),
      missed: this.missStream.at(k) < this.missedNoticeShare,
    };
  }
}

/**
 * EC2 rebalance recommendations: a constant hazard per instance-hour from launch, drawn from its own
 * stream (the same k-th draw for every policy), independent of the interruptions.
 */
export class RebalanceModel {
  private readonly stream: RandomStream;

  constructor(
    seed: number,
    readonly rebalancesPerHour: number,
  ) {
    this.stream = new RandomStream(seed, 'rebalance-time');
  }

  /** Seconds after launch when the k-th spot instance gets its recommendation (Infinity: never). */
  recommendationAfterS(k: number): number {
    return exponential(this.stream.at(k), this.rebalancesPerHour / 3600);
  }
}
