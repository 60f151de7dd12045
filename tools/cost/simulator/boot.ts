/**
 * Boot model: instance launch to first job (pending → running → AMI boot → model server healthy →
 * worker polling), lognormal with a given median and 95th percentile (default 180 s and 480 s).
 */
import { lognormalFromMedianP95, RandomStream } from './rng';

export class BootModel {
  private readonly stream: RandomStream;

  constructor(
    seed: number,
    readonly medianS: number,
    readonly p95S: number,
  ) {
    this.stream = new RandomStream(seed, 'boot');
  }

  /** Seconds from launch to ready of the k-th instance a policy launches (the same k for every policy). */
  bootSeconds(k: number): number {
    return lognormalFromMedianP95(this.stream.at(k), this.medianS, this.p95S);
  }
}
