/**
 * The one list of checks that fire on main today, reported but not failed on. Each is a known bug the lead's
 * lease / runner / retry / drainer rewrite fixes; delete its line once that lands (the suite then fails if it
 * fires again), and delete the list when it is empty.
 */
import { CheckName } from './detectors';

export const KNOWN_FAILING: ReadonlyMap<CheckName, string> = new Map<CheckName, string>([
  // expected to fail until the lease lands
  ['no-live-lease-takeover', 'a redelivered copy (receive count > 1) takes over a RUNNING job whose holder is alive: JobRecords.start()'],
  // expected to fail until the lease lands
  ['result-is-the-records', 'a losing run overwrites the result object: the runner stores the result before its conditional SUCCEEDED write'],
  // expected to fail until the lease lands
  ['attempts-within-budget', 'retryOrPark decides from the message\'s attempt, not the record\'s'],
  // expected to fail until the lease lands
  ['no-start-after-drain', 'a drained instance keeps starting jobs until its next IMDS poll (up to 5 s) after the drainer requeued its jobs'],
]);
