import {
  BOOT_STAGES_PATH,
  BootFailureReasons,
  BootStages,
  Dimensions,
  METRIC_DIMENSION_SETS,
  METRIC_NAMESPACE,
  MetricNames,
  WORKER_CONFIG_PATH,
} from '../contracts';
import { MODEL_CACHE_DIR, MODEL_WEIGHTS_DIR, ModelServerConfig, shellQuote } from './model-server';
import { WORKER_BUNDLE_FILE, WORKER_NODE_MAJOR } from './worker-bundle';

/** Paths and unit names on the instance (the README's "what runs where"). */
export const InstancePaths = {
  ROOT: '/opt/ai-burst',
  WORKER_DIR: '/opt/ai-burst/worker',
  WORKER_BUNDLE: `/opt/ai-burst/worker/${WORKER_BUNDLE_FILE}`,
  MODEL_SERVER_SCRIPT: '/opt/ai-burst/model-server.sh',
  PRICES_BY_REGION: '/etc/ai-burst/prices-by-region.json',
  /** AWS CLI configuration of the weights copy (parallel S3 transfers). */
  S3_TRANSFER_CONFIG: '/etc/ai-burst/s3-transfer.config',
  CW_AGENT_CONFIG: '/opt/aws/amazon-cloudwatch-agent/etc/ai-burst.json',
  CW_AGENT_CTL: '/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl',
  WORKER_UNIT: 'ai-burst-worker.service',
  MODEL_SERVER_UNIT: 'ai-burst-model-server.service',
  /** The boot script's log (also on the console). */
  BOOT_LOG: '/var/log/ai-burst-boot.log',
  /** What a failed boot sent to CloudWatch Logs, kept on the instance too. */
  BOOT_FAILURE_EVENTS: '/var/lib/ai-burst/boot-failure.json',
  /** System user the worker runs as (no login shell, no home). */
  WORKER_USER: 'ai-burst',
} as const;

/** The model of the NVMe devices of an instance store (`lsblk -o MODEL`); EBS volumes say "Amazon Elastic Block Store". */
export const INSTANCE_STORE_MODEL = 'Amazon EC2 NVMe Instance Storage';
/** Attempts of the image pull and the weights copy before the boot fails. */
export const BOOT_STEP_ATTEMPTS = 3;
/** Lines of the boot log sent with a failure. */
export const BOOT_LOG_TAIL_LINES = 50;

export interface UserDataOptions {
  /** The worker config as JSON text (may contain CloudFormation tokens; written verbatim). */
  readonly workerConfigJson: string;
  /** `s3://bucket/key` of the bundled worker. */
  readonly workerS3Url: string;
  /** Region for the `aws s3 cp` of the worker, and of the failure report when IMDS does not answer (may be a token). */
  readonly region: string;
  readonly modelServer: ModelServerConfig;
  /** Workload name: the `Workload` dimension of the `BootFailures` datum a failed boot puts. */
  readonly workload: string;
  /** CloudWatch Logs group a failed boot writes its reason and log tail to (stream: the instance id). */
  readonly bootLogGroupName: string;
  /** Check the NVIDIA GPU (`nvidia-smi`) first; a failure is reported as `gpu-unavailable`. @default false */
  readonly gpuCheck?: boolean;
  /**
   * When the region is only known at deploy time: JSON of region → instance type → spot USD/h. The config
   * is written with an empty `hourlyPriceUsd`, and a boot step fills it from this table for the instance's
   * region (falling back to us-east-1 for a region the snapshot lacks).
   */
  readonly pricesByRegionJson?: string;
  /** CloudWatch agent configuration JSON; when set, the agent is installed and started with it. */
  readonly cloudWatchAgentConfigJson?: string;
}

/** Every absolute path the script writes goes under `$R` (AI_BURST_ROOT): empty on an instance, a scratch directory in tests. */
function at(path: string): string {
  return `"$R"${path}`;
}

/** A heredoc with a quoted delimiter: the content is written verbatim (no shell expansion). */
function writeFile(path: string, content: string, mode: string, owner = 'root:root'): string[] {
  return [
    `mkdir -p ${at(path.slice(0, path.lastIndexOf('/')))}`,
    `cat > ${at(path)} <<'AI_BURST_EOF'`,
    content,
    'AI_BURST_EOF',
    `chmod ${mode} ${at(path)}`,
    `chown ${owner} ${at(path)}`,
  ];
}

/** `@NAME@` placeholders in bash text (bash's own `${…}` and docker's `{{…}}` stay as they are). */
function fill(lines: string[], values: Record<string, string>): string[] {
  return lines.map((l) =>
    l.replace(/@([A-Z_]+)@/g, (m, k: string) => {
      if (!(k in values)) throw new Error(`renderUserData: no value for ${m}`);
      return values[k];
    }),
  );
}

const STATE_DIR = BOOT_STAGES_PATH.slice(0, BOOT_STAGES_PATH.lastIndexOf('/'));

/**
 * The prologue: log to the console and the boot log, record stages, retry a step, and report a failed boot once.
 * A failing step (errexit) runs the ERR trap; the EXIT trap catches what ERR cannot see (an unset variable, a
 * failure inside a function). The report puts one BootFailures datum, sends the reason and the log tail to the
 * fleet's log group and then marks the instance Unhealthy (last: the group terminates it); none of it can fail
 * the report, loop, or change the exit status of the step that failed.
 */
const PROLOGUE = [
  'set -euo pipefail',
  '# Every absolute path this script writes is under AI_BURST_ROOT: empty on an instance, a scratch directory in tests.',
  'R="${AI_BURST_ROOT:-}"',
  'mkdir -p "$R/var/log"',
  'exec > >(tee -a "$R@BOOT_LOG@") 2>&1',
  'AI_BURST_TEE_PID=$!',
  'AI_BURST_REASON=@BOOT_SCRIPT_FAILED@',
  'AI_BURST_REPORTED=',
  'ai_burst_stage() {',
  '  install -d -m 0755 "$R@STATE_DIR@"',
  '  echo "$1 $(date +%s)" >> "$R@STAGES@"',
  '  chmod 0644 "$R@STAGES@"',
  '  echo "ai-burst boot: stage $1"',
  '}',
  '# Runs "$@" up to $1 times, pausing longer after each failure (errexit is off inside: the command returns its status).',
  'ai_burst_retry() {',
  '  local attempts=$1 pause=${AI_BURST_RETRY_SECONDS:-10} i',
  '  shift',
  '  for ((i = 1; ; i++)); do',
  '    if "$@"; then return 0; fi',
  '    if ((i >= attempts)); then echo "ai-burst boot: $1 failed $attempts times"; return 1; fi',
  '    echo "ai-burst boot: $1 failed (attempt $i of $attempts); retrying in $((pause * i)) s"',
  '    sleep $((pause * i))',
  '  done',
  '}',
  '# $1 as a JSON string; control characters other than tab and newline are dropped.',
  'ai_burst_json() {',
  '  local s',
  "  s=$(printf '%s' \"$1\" | tr -d '\\000-\\010\\013-\\037')",
  '  s=${s//\\\\/\\\\\\\\}',
  '  s=${s//\\"/\\\\\\"}',
  "  s=${s//$'\\t'/\\\\t}",
  "  s=${s//$'\\n'/\\\\n}",
  '  printf \'"%s"\' "$s"',
  '}',
  'ai_burst_report() {',
  '  local rc=$1 where=${2:0:300} token iid region msg events stream',
  '  [ -z "$AI_BURST_REPORTED" ] || return 0',
  '  AI_BURST_REPORTED=1',
  '  trap - ERR',
  '  set +e +o pipefail',
  '  echo "ai-burst boot: FAILED ($AI_BURST_REASON, exit $rc) at $where"',
  '  # Stop tee, so the log file holds every line before its tail is sent (bounded: 2 s).',
  '  exec >>"$R@BOOT_LOG@" 2>&1',
  '  for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do kill -0 "$AI_BURST_TEE_PID" 2>/dev/null || break; sleep 0.1; done',
  "  token=$(curl -fsS -m 2 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' http://169.254.169.254/latest/api/token)",
  '  iid=$(curl -fsS -m 2 -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/instance-id)',
  '  region=$(curl -fsS -m 2 -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/placement/region)',
  '  [ -n "$region" ] || region=@REGION@',
  '  local aws=(aws --region "$region" --cli-connect-timeout 5 --cli-read-timeout 10)',
  '  "${aws[@]}" cloudwatch put-metric-data --namespace @NAMESPACE@ --metric-name @METRIC@ --dimensions @DIMENSIONS@ --value 1 --unit Count ||',
  '    echo "ai-burst boot: could not count the failure"',
  '  msg="boot failed: reason=$AI_BURST_REASON exit=$rc at $where"$\'\\n\'"--- last @TAIL@ lines of @BOOT_LOG@ ---"$\'\\n\'"$(tail -n @TAIL@ "$R@BOOT_LOG@")"',
  '  events="$R@FAILURE_EVENTS@"',
  '  install -d -m 0755 "$R@STATE_DIR@"',
  '  printf \'[{"timestamp":%s,"message":%s}]\\n\' "$(date +%s%3N)" "$(ai_burst_json "$msg")" > "$events"',
  '  stream=${iid:-unknown-instance}',
  '  "${aws[@]}" logs create-log-stream --log-group-name @LOG_GROUP@ --log-stream-name "$stream" >/dev/null 2>&1',
  '  "${aws[@]}" logs put-log-events --log-group-name @LOG_GROUP@ --log-stream-name "$stream" --log-events "file://$events" >/dev/null ||',
  '    echo "ai-burst boot: could not send the log"',
  '  if [ -n "$iid" ]; then',
  '    "${aws[@]}" autoscaling set-instance-health --instance-id "$iid" --health-status Unhealthy --no-should-respect-grace-period ||',
  '      echo "ai-burst boot: could not report the instance unhealthy"',
  '  else',
  '    echo "ai-burst boot: no instance id from IMDS; the instance is not reported unhealthy"',
  '  fi',
  '}',
  'trap \'ai_burst_rc=$?; ai_burst_report "$ai_burst_rc" "line $LINENO: $BASH_COMMAND"; exit "$ai_burst_rc"\' ERR',
  'trap \'ai_burst_rc=$?; if [ "$ai_burst_rc" -ne 0 ]; then ai_burst_report "$ai_burst_rc" "exit"; fi; exit "$ai_burst_rc"\' EXIT',
];

/**
 * Docker and the NVIDIA container runtime, installed and configured when missing (the base OSS-driver DLAMI may
 * lack them); idempotent.
 */
const DOCKER_READY = [
  'if ! command -v docker >/dev/null 2>&1; then dnf install -y docker; fi',
  'systemctl enable --now docker',
  "AI_BURST_RUNTIMES=$(docker info --format '{{json .Runtimes}}' 2>/dev/null || true)",
  'if [[ $AI_BURST_RUNTIMES != *\'"nvidia"\'* ]]; then',
  '  command -v nvidia-ctk >/dev/null 2>&1 || dnf install -y nvidia-container-toolkit',
  '  nvidia-ctk runtime configure --runtime=docker',
  '  systemctl restart docker',
  'fi',
  'docker info >/dev/null',
];

/**
 * The instance store, when the type has one: an XFS filesystem (made once; kept across reboots, which keep the
 * instance store), mounted at the weights directory now and from fstab after a reboot. The first device only.
 */
const LOCAL_DISK = [
  `AI_BURST_DISK=$(lsblk -dnpo NAME,MODEL 2>/dev/null | awk '/${INSTANCE_STORE_MODEL}/ {print $1; exit}' || true)`,
  'if [ -n "$AI_BURST_DISK" ]; then',
  '  if [ "$(blkid -o value -s TYPE "$AI_BURST_DISK" 2>/dev/null || true)" != xfs ]; then mkfs.xfs -f "$AI_BURST_DISK"; fi',
  '  AI_BURST_DISK_UUID=$(blkid -o value -s UUID "$AI_BURST_DISK")',
  '  grep -q "^UUID=$AI_BURST_DISK_UUID " "$R/etc/fstab" 2>/dev/null ||',
  `    echo "UUID=$AI_BURST_DISK_UUID ${MODEL_WEIGHTS_DIR} xfs defaults,noatime,nofail 0 2" >> "$R/etc/fstab"`,
  `  mountpoint -q ${at(MODEL_WEIGHTS_DIR)} || mount -o noatime "$AI_BURST_DISK" ${at(MODEL_WEIGHTS_DIR)}`,
  '  echo "ai-burst boot: weights on the instance store $AI_BURST_DISK"',
  'else',
  '  echo "ai-burst boot: no instance store; weights on the root volume"',
  'fi',
];

/** Parallel S3 transfers for the weights copy (the CLI's default is 10 requests at once). */
const S3_TRANSFER_CONFIG = [
  '[default]',
  's3 =',
  '  max_concurrent_requests = 64',
  '  max_queue_size = 10000',
  '  multipart_threshold = 64MB',
  '  multipart_chunksize = 64MB',
].join('\n');

/**
 * The boot script of a GPU instance, as bash lines. In order: stage `user-data-start`; the GPU check (optional);
 * the worker user; Node.js from the AL2023 repositories; the worker bundle from S3; the worker config at
 * WORKER_CONFIG_PATH; the CloudWatch agent (optional); for a container server Docker and the NVIDIA runtime
 * (`docker-ready`), the ECR login and image pull with retries (`image-ready`); the weights copy to local disk with
 * retries (`weights-ready`); the model server and worker as systemd units, enabled and started. A failing step
 * stops the script, which reports the failure (BootFailures, the log tail, Unhealthy) and exits non-zero.
 */
export function renderUserData(o: UserDataOptions): string[] {
  const node = `node-${WORKER_NODE_MAJOR}`;
  const ms = o.modelServer;
  const dimensionSet = METRIC_DIMENSION_SETS[MetricNames.BOOT_FAILURES][0];
  if (dimensionSet.length !== 1 || dimensionSet[0] !== Dimensions.WORKLOAD) {
    throw new Error(`renderUserData: BootFailures is published with ${dimensionSet.join('+')}, which the boot script does not know`);
  }
  const lines: string[] = fill(PROLOGUE, {
    BOOT_LOG: InstancePaths.BOOT_LOG,
    STATE_DIR,
    STAGES: BOOT_STAGES_PATH,
    FAILURE_EVENTS: InstancePaths.BOOT_FAILURE_EVENTS,
    BOOT_SCRIPT_FAILED: BootFailureReasons.BOOT_SCRIPT_FAILED,
    REGION: shellQuote(o.region),
    NAMESPACE: METRIC_NAMESPACE,
    METRIC: MetricNames.BOOT_FAILURES,
    DIMENSIONS: shellQuote(`${Dimensions.WORKLOAD}=${o.workload}`),
    LOG_GROUP: shellQuote(o.bootLogGroupName),
    TAIL: String(BOOT_LOG_TAIL_LINES),
  });
  lines.push(`ai_burst_stage ${BootStages.USER_DATA_START}`);
  if (o.gpuCheck) {
    lines.push(
      `AI_BURST_REASON=${BootFailureReasons.GPU_UNAVAILABLE}`,
      'timeout 120 nvidia-smi -L',
      `AI_BURST_REASON=${BootFailureReasons.BOOT_SCRIPT_FAILED}`,
    );
  }
  lines.push(
    `id -u ${InstancePaths.WORKER_USER} >/dev/null 2>&1 || useradd --system --no-create-home --shell /sbin/nologin ${InstancePaths.WORKER_USER}`,
    `mkdir -p ${at('/etc/ai-burst')} ${at(InstancePaths.WORKER_DIR)} ${at(MODEL_CACHE_DIR)}`,
    `dnf install -y nodejs${WORKER_NODE_MAJOR}${o.cloudWatchAgentConfigJson ? ' amazon-cloudwatch-agent' : ''}`,
    `aws s3 cp ${shellQuote(o.workerS3Url)} ${at(InstancePaths.WORKER_BUNDLE)} --region ${shellQuote(o.region)} --only-show-errors`,
    `chmod 0644 ${at(InstancePaths.WORKER_BUNDLE)}`,
    ...writeFile(WORKER_CONFIG_PATH, o.workerConfigJson, '0640', `root:${InstancePaths.WORKER_USER}`),
  );
  if (o.pricesByRegionJson) {
    lines.push(
      ...writeFile(InstancePaths.PRICES_BY_REGION, o.pricesByRegionJson, '0644'),
      `${node} -e 'const fs=require("fs");const p=process.argv[1];const c=JSON.parse(fs.readFileSync(p,"utf8"));` +
        `const t=JSON.parse(fs.readFileSync(process.argv[2],"utf8"));c.hourlyPriceUsd=t[c.region]||t["us-east-1"]||{};` +
        `fs.writeFileSync(p,JSON.stringify(c,null,2))' ${at(WORKER_CONFIG_PATH)} ${at(InstancePaths.PRICES_BY_REGION)}`,
    );
  }
  if (o.cloudWatchAgentConfigJson) {
    lines.push(
      ...writeFile(InstancePaths.CW_AGENT_CONFIG, o.cloudWatchAgentConfigJson, '0644'),
      `${at(InstancePaths.CW_AGENT_CTL)} -a fetch-config -m ec2 -s -c file:${at(InstancePaths.CW_AGENT_CONFIG)}`,
    );
  }
  if (ms.image) {
    lines.push(...DOCKER_READY, `ai_burst_stage ${BootStages.DOCKER_READY}`);
    // The pull is a boot step, so a registry failure is a reported boot failure, not a unit restarting forever.
    const login = ms.image.ecrRegistry
      ? `aws ecr get-login-password --region ${shellQuote(ms.image.ecrRegion ?? o.region)} | ` +
        `docker login --username AWS --password-stdin ${shellQuote(ms.image.ecrRegistry)} && `
      : '';
    lines.push(
      `ai_burst_pull_image() { ${login}docker pull ${shellQuote(ms.image.imageUri)}; }`,
      `ai_burst_retry ${BOOT_STEP_ATTEMPTS} ai_burst_pull_image`,
      `ai_burst_stage ${BootStages.IMAGE_READY}`,
    );
  }
  if (ms.weights) {
    lines.push(
      `install -d -m 0755 ${at(MODEL_WEIGHTS_DIR)}`,
      ...LOCAL_DISK,
      ...writeFile(InstancePaths.S3_TRANSFER_CONFIG, S3_TRANSFER_CONFIG, '0644'),
      `ai_burst_copy_weights() { AWS_CONFIG_FILE=${at(InstancePaths.S3_TRANSFER_CONFIG)} aws s3 sync ${shellQuote(ms.weights.s3Url)} ` +
        `"$R"${MODEL_WEIGHTS_DIR}/ --region ${shellQuote(ms.weights.region)} --only-show-errors --no-progress; }`,
      `ai_burst_retry ${BOOT_STEP_ATTEMPTS} ai_burst_copy_weights`,
      `ai_burst_stage ${BootStages.WEIGHTS_READY}`,
    );
  }
  const serverNeeds = ms.image ? 'network-online.target docker.service' : 'network-online.target';
  lines.push(
    ...writeFile(InstancePaths.MODEL_SERVER_SCRIPT, ['#!/bin/bash', 'set -euo pipefail', ...ms.startScript].join('\n'), '0755'),
    ...writeFile(
      `/etc/systemd/system/${InstancePaths.MODEL_SERVER_UNIT}`,
      [
        '[Unit]',
        'Description=cdk-ai-burst model server',
        `Wants=${serverNeeds}`,
        `After=${serverNeeds}`,
        ...(ms.image ? ['Requires=docker.service'] : []),
        // After a reboot the instance store is mounted from fstab: never serve from an empty directory.
        ...(ms.weights ? [`RequiresMountsFor=${MODEL_WEIGHTS_DIR}`] : []),
        '[Service]',
        `ExecStart=/bin/bash ${InstancePaths.MODEL_SERVER_SCRIPT}`,
        'Restart=always',
        'RestartSec=10',
        'TimeoutStartSec=0',
        '[Install]',
        'WantedBy=multi-user.target',
      ].join('\n'),
      '0644',
    ),
    ...writeFile(
      `/etc/systemd/system/${InstancePaths.WORKER_UNIT}`,
      [
        '[Unit]',
        'Description=cdk-ai-burst worker agent',
        `Wants=network-online.target ${InstancePaths.MODEL_SERVER_UNIT}`,
        `After=network-online.target ${InstancePaths.MODEL_SERVER_UNIT}`,
        '[Service]',
        `User=${InstancePaths.WORKER_USER}`,
        `ExecStart=/usr/bin/${node} ${InstancePaths.WORKER_BUNDLE}`,
        'Environment=NODE_ENV=production',
        'Restart=always',
        'RestartSec=5',
        // Room to finish or hand back the jobs in hand when stopped (a spot notice gives 2 minutes).
        'TimeoutStopSec=110',
        'NoNewPrivileges=true',
        'ProtectSystem=full',
        'ProtectHome=true',
        'PrivateTmp=true',
        '[Install]',
        'WantedBy=multi-user.target',
      ].join('\n'),
      '0644',
    ),
    'systemctl daemon-reload',
    `systemctl enable --now ${InstancePaths.MODEL_SERVER_UNIT} ${InstancePaths.WORKER_UNIT}`,
    'echo "ai-burst boot: done"',
  );
  return lines;
}
