/**
 * The JSON file GpuFleet writes on each instance and the worker agent reads at start.
 * One definition so the construct (writer) and the worker (reader) cannot drift.
 */

/** Where the fleet's user data writes the config and the systemd unit points the worker. */
export const WORKER_CONFIG_PATH = '/etc/ai-burst/worker.json';
export const WORKER_CONFIG_VERSION = 1;

/** The HTTP API a model server speaks; the worker picks its adapter by it (the value is what the config file holds). */
export enum ModelServerKind {
  /** /v1/chat/completions or /v1/completions (vLLM, TGI, llama.cpp, Ollama). */
  OPENAI = 'openai',
  /** POST /invocations (SageMaker-style containers), health `/ping`. */
  INVOCATIONS = 'invocations',
}

export interface WorkerModelServerConfig {
  /** The API the server speaks. */
  readonly kind: ModelServerKind;
  /** e.g. `http://127.0.0.1:8000` — the server runs on the same instance. */
  readonly baseUrl: string;
  /** Polled until it answers 2xx before the worker pulls jobs, e.g. `/health` or `/ping`. */
  readonly healthPath: string;
  /** Model name sent when a job names none. */
  readonly defaultModel?: string;
  /** OpenAI-compatible servers: stream responses to measure time to first token. */
  readonly stream?: boolean;
}

export interface WorkerQueueConfig {
  readonly priority: string;
  readonly url: string;
}

/** Base and cap, in seconds, of a failed job's retry backoff. */
export interface WorkerRetryBackoff {
  readonly baseSeconds: number;
  readonly maxSeconds: number;
}

export interface WorkerConfig {
  readonly v: number;
  /** The instance's region: Auto Scaling, CloudWatch metrics (and IMDS, which is local anyway). */
  readonly region: string;
  /**
   * Region of the queues, the job table and the data bucket, when the fleet runs in another region than
   * its platform (AiBurstPlatform placement): the SQS, DynamoDB and S3 clients sign for this region.
   * @default - `region`
   */
  readonly dataRegion?: string;
  readonly workload: string;
  /** Work queues, highest priority first. */
  readonly queues: WorkerQueueConfig[];
  readonly parkingQueueUrl: string;
  readonly jobTable: string;
  readonly payloadBucket?: string;
  readonly resultBucket: string;
  /** Results up to this size are stored inline in the job record; larger ones go to S3. */
  readonly inlineResultMaxBytes: number;
  readonly autoScalingGroupName: string;
  readonly metricNamespace: string;
  readonly modelServer: WorkerModelServerConfig;
  /**
   * Jobs run at once on one instance (per weight unit with `instanceWeights`); `0` = one per GPU of the
   * instance type (pricing snapshot; 1 when unknown), which the weight does not multiply.
   */
  readonly concurrency: number;
  /**
   * The fleet's weight of each instance type (its capacity units): an instance runs `concurrency × weight`
   * jobs at once, the weight of its own type (from IMDS). A type missing here weighs 1.
   * @default - unweighted fleet: every instance runs `concurrency` jobs
   */
  readonly instanceWeights?: Record<string, number>;
  readonly jobTimeoutSeconds: number;
  /**
   * How long a job is expected to run: at a spot notice a job expected to end before the reclaim (less a
   * margin) keeps running, the rest are requeued at once. @default - unknown: every job is requeued at a notice
   */
  readonly expectedJobSeconds?: number;
  /** The queues' visibility timeout: the heartbeat extends the lease every third of this. */
  readonly visibilityTimeoutSeconds: number;
  /** Retry budget: attempts before a failing job is parked. */
  readonly maxAttempts: number;
  /** Per-instance-type hourly price used to turn GPU-seconds into `costUsd` (the pricing snapshot's spot price). */
  readonly hourlyPriceUsd: Record<string, number>;
  /** IMDS base URL; only tests change it. @default http://169.254.169.254 */
  readonly imdsEndpoint?: string;
  /** Longest wait of one receive round when every queue is empty (1 to 20; split between the queues). @default 20 */
  readonly pollWaitSeconds?: number;
  /** How often IMDS is polled for a spot notice, a rebalance recommendation and the draining tag. @default 5 */
  readonly imdsPollSeconds?: number;
  /** Receive rounds a lower-priority queue may be passed over while higher ones serve before it is polled first. @default 5 */
  readonly starvationLimit?: number;
  /** Backoff of a failed job's retry (full jitter; over 900 s served by re-delaying). @default 10 s base, 3600 s cap */
  readonly retryBackoff?: WorkerRetryBackoff;
  /** On SIGTERM: how long running jobs may finish before they are requeued (keep below systemd's TimeoutStopSec). @default 20 */
  readonly shutdownGraceSeconds?: number;
  /** How often buffered metrics are sent with PutMetricData. @default 30 */
  readonly metricsFlushSeconds?: number;
  /**
   * The model server must be healthy within this many seconds of the instance's launch, or the worker reports the
   * instance unhealthy (Auto Scaling replaces it) and counts a BootFailure. @default - no deadline (waits forever)
   */
  readonly bootTimeoutSeconds?: number;
  /**
   * After the model server was healthy once: seconds without a healthy answer before the worker hands its jobs back
   * and reports the instance unhealthy. @default DEFAULT_MODEL_LOST_SECONDS (60)
   */
  readonly modelLostSeconds?: number;
}
