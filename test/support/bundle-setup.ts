/**
 * Jest global setup: the constructs load prebuilt run-time bundles (assets/), so rebuild them when a source
 * is newer than a bundle (the first run after editing lambda/ or worker/); otherwise a no-op.
 */
import { bundlesStale, bundleRuntime } from '../../scripts/bundle-runtime';

export default function bundleSetup(): void {
  if (bundlesStale()) bundleRuntime();
}
