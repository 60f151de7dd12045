/**
 * The cold-start contract between the boot script (GpuFleet's user data, the writer), the worker agent (the reader
 * and publisher) and the CapacityManager (which learns the fleet's boot time from what the worker publishes).
 */

/**
 * Boot stages in the order an instance passes them. The `ColdStartSeconds` metric's value for a stage is the seconds
 * from the instance's launch (`pendingTime` of the IMDS instance identity document) to the end of that stage.
 */
export const BootStages = {
  /** The user data script began. */
  USER_DATA_START: 'user-data-start',
  /** Docker and the NVIDIA container runtime answer (installed first when missing). */
  DOCKER_READY: 'docker-ready',
  /** The model server's image is pulled (ECR login included). Absent for `ModelServer.commands()`. */
  IMAGE_READY: 'image-ready',
  /** The model's weights are on local disk (copied from S3). Absent without `modelWeights`. */
  WEIGHTS_READY: 'weights-ready',
  /** The model server answered its health check: the instance can take jobs (the worker writes this one). */
  MODEL_HEALTHY: 'model-healthy',
  /** The first job started on this instance (the worker writes this one). */
  FIRST_JOB: 'first-job',
} as const;
export type BootStage = (typeof BootStages)[keyof typeof BootStages];

/** Stages in order. */
export const BOOT_STAGE_ORDER: readonly BootStage[] = Object.values(BootStages);

/**
 * The boot script appends one line per finished stage: `<stage> <unix epoch seconds>` (mode 0644, root-owned, in a
 * directory the worker can read). The worker reads it once its model server is healthy and publishes each stage once
 * per instance (a reboot appends again; the worker publishes only the stages of the first boot).
 */
export const BOOT_STAGES_PATH = '/var/lib/ai-burst/boot-stages';

/**
 * Why an instance gave up on itself. The instance then calls Auto Scaling `SetInstanceHealth` (Unhealthy) so its
 * group replaces it, counts one `BootFailures` (or `ModelServerLost`) and logs the reason with the last boot log lines.
 */
export const BootFailureReasons = {
  /** A boot script step failed (package install, S3 copy, image pull, weights copy). */
  BOOT_SCRIPT_FAILED: 'boot-script-failed',
  /** `nvidia-smi` failed: no usable GPU. */
  GPU_UNAVAILABLE: 'gpu-unavailable',
  /** The model server was not healthy within the boot timeout. */
  MODEL_NEVER_HEALTHY: 'model-never-healthy',
} as const;
export type BootFailureReason = (typeof BootFailureReasons)[keyof typeof BootFailureReasons];

/** The boot timeout defaults to this many times the expected boot time, within the bounds below. */
export const BOOT_TIMEOUT_FACTOR = 3;
export const MIN_DEFAULT_BOOT_TIMEOUT_SECONDS = 600;
export const MAX_BOOT_TIMEOUT_SECONDS = 1800;

/**
 * After the model server was healthy once: this long without a healthy answer and the worker stops taking jobs, hands
 * its jobs back (as an interruption: no attempt spent) and reports the instance unhealthy.
 */
export const DEFAULT_MODEL_LOST_SECONDS = 60;

/** The CapacityManager learns the boot time from `ColdStartSeconds` (stage `model-healthy`, p90) over this window... */
export const LEARNED_BOOT_WINDOW_HOURS = 24;
/** ...once at least this many boots were seen in it; until then the static `expectedBootTime` (the prior) is used. */
export const LEARNED_BOOT_MIN_SAMPLES = 5;
