import { WORKER_CONFIG_PATH } from '../contracts';
import { ModelServerConfig, MODEL_CACHE_DIR } from './model-server';
import { WORKER_BUNDLE_FILE, WORKER_NODE_MAJOR } from './worker-bundle';

/** Paths and unit names on the instance (the README's "what runs where"). */
export const InstancePaths = {
  ROOT: '/opt/ai-burst',
  WORKER_DIR: '/opt/ai-burst/worker',
  WORKER_BUNDLE: `/opt/ai-burst/worker/${WORKER_BUNDLE_FILE}`,
  MODEL_SERVER_SCRIPT: '/opt/ai-burst/model-server.sh',
  PRICES_BY_REGION: '/etc/ai-burst/prices-by-region.json',
  CW_AGENT_CONFIG: '/opt/aws/amazon-cloudwatch-agent/etc/ai-burst.json',
  WORKER_UNIT: 'ai-burst-worker.service',
  MODEL_SERVER_UNIT: 'ai-burst-model-server.service',
  /** System user the worker runs as (no login shell, no home). */
  WORKER_USER: 'ai-burst',
} as const;

export interface UserDataOptions {
  /** The worker config as JSON text (may contain CloudFormation tokens; written verbatim). */
  readonly workerConfigJson: string;
  /** `s3://bucket/key` of the bundled worker. */
  readonly workerS3Url: string;
  /** Region for the `aws s3 cp` of the worker (may be a token). */
  readonly region: string;
  readonly modelServer: ModelServerConfig;
  /**
   * When the region is only known at deploy time: JSON of region → instance type → spot USD/h. The config
   * is written with an empty `hourlyPriceUsd`, and a boot step fills it from this table for the instance's
   * region (falling back to us-east-1 for a region the snapshot lacks).
   */
  readonly pricesByRegionJson?: string;
  /** CloudWatch agent configuration JSON; when set, the agent is installed and started with it. */
  readonly cloudWatchAgentConfigJson?: string;
}

/** A heredoc with a quoted delimiter: the content is written verbatim (no shell expansion). */
function writeFile(path: string, content: string, mode: string, owner = 'root:root'): string[] {
  return [`cat > ${path} <<'AI_BURST_EOF'`, content, 'AI_BURST_EOF', `chmod ${mode} ${path}`, `chown ${owner} ${path}`];
}

/**
 * The boot script of a GPU instance, as bash lines. In order: Node.js from the AL2023 repositories, the
 * worker bundle from S3, the worker config at WORKER_CONFIG_PATH, the CloudWatch agent (optional), the
 * model server and worker as systemd units, enabled and started. Any failing step stops the script
 * (`set -euo pipefail`); the instance then never takes a job and idles out after the idle window.
 */
export function renderUserData(o: UserDataOptions): string[] {
  const node = `/usr/bin/node-${WORKER_NODE_MAJOR}`;
  const lines: string[] = [
    'set -euo pipefail',
    'exec > >(tee -a /var/log/ai-burst-boot.log) 2>&1',
    `id -u ${InstancePaths.WORKER_USER} >/dev/null 2>&1 || useradd --system --no-create-home --shell /sbin/nologin ${InstancePaths.WORKER_USER}`,
    `mkdir -p /etc/ai-burst ${InstancePaths.WORKER_DIR} ${MODEL_CACHE_DIR}`,
    `dnf install -y nodejs${WORKER_NODE_MAJOR}${o.cloudWatchAgentConfigJson ? ' amazon-cloudwatch-agent' : ''}`,
    `aws s3 cp ${o.workerS3Url} ${InstancePaths.WORKER_BUNDLE} --region ${o.region} --only-show-errors`,
    `chmod 0644 ${InstancePaths.WORKER_BUNDLE}`,
    ...writeFile(WORKER_CONFIG_PATH, o.workerConfigJson, '0640', `root:${InstancePaths.WORKER_USER}`),
  ];
  if (o.pricesByRegionJson) {
    lines.push(
      ...writeFile(InstancePaths.PRICES_BY_REGION, o.pricesByRegionJson, '0644'),
      `${node} -e 'const fs=require("fs");const p=process.argv[1];const c=JSON.parse(fs.readFileSync(p,"utf8"));` +
        `const t=JSON.parse(fs.readFileSync(process.argv[2],"utf8"));c.hourlyPriceUsd=t[c.region]||t["us-east-1"]||{};` +
        `fs.writeFileSync(p,JSON.stringify(c,null,2))' ${WORKER_CONFIG_PATH} ${InstancePaths.PRICES_BY_REGION}`,
    );
  }
  if (o.cloudWatchAgentConfigJson) {
    lines.push(
      ...writeFile(InstancePaths.CW_AGENT_CONFIG, o.cloudWatchAgentConfigJson, '0644'),
      `/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:${InstancePaths.CW_AGENT_CONFIG}`,
    );
  }
  lines.push(
    ...writeFile(InstancePaths.MODEL_SERVER_SCRIPT, ['#!/bin/bash', 'set -euo pipefail', ...o.modelServer.startScript].join('\n'), '0755'),
    ...writeFile(
      `/etc/systemd/system/${InstancePaths.MODEL_SERVER_UNIT}`,
      [
        '[Unit]',
        'Description=cdk-ai-burst model server',
        'Wants=network-online.target docker.service',
        'After=network-online.target docker.service',
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
        `ExecStart=${node} ${InstancePaths.WORKER_BUNDLE}`,
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
  );
  return lines;
}
