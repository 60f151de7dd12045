/**
 * Runs a rendered boot script with bash, without root or network: every absolute path it writes goes under
 * AI_BURST_ROOT (a scratch directory), and every system command it calls is a stub on PATH that appends its argv
 * to a call log, keeps the little state a second run needs (the user, the filesystem, the mounts, the installed
 * packages) and fails on demand. PATH holds only the stubs and a few real coreutils, so nothing real leaks in.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Real tools the script may use as they are (text and file plumbing, no system state). */
const REAL_TOOLS = [
  'awk',
  'basename',
  'cat',
  'chmod',
  'cp',
  'date',
  'dirname',
  'grep',
  'head',
  'install',
  'ln',
  'mkdir',
  'rm',
  'sed',
  'tail',
  'tee',
  'timeout',
  'touch',
  'tr',
];

/** Commands the stub answers; a missing one on PATH makes the script fail like a missing binary would. */
export const STUBBED = [
  'aws',
  'blkid',
  'chown',
  'curl',
  'dnf',
  'id',
  'lsblk',
  'mkfs.xfs',
  'mount',
  'mountpoint',
  'nvidia-ctk',
  'nvidia-smi',
  // Logged, so a test sees the backoff without waiting for it; fractions of a second (the report's wait for tee) really sleep.
  'sleep',
  'systemctl',
  'useradd',
] as const;

export const INSTANCE_ID = 'i-0abcdef1234567890';
export const IMDS_REGION = 'eu-west-1';
export const DISK_UUID = '3b1f0e52-0c3a-4d55-9d7e-5a8f6d2c1b9e';

/**
 * One stub for every command (`$0` says which). STUB_FAIL holds glob patterns, one a line, of `<command> <args>`
 * calls that must fail (exit 1).
 */
const STUB = String.raw`#!/bin/bash
cmd=$(basename "$0")
call="$cmd $*"
printf '%s\n' "$call" >> "$STUB_CALLS"
if [ -n "${'$'}{AWS_CONFIG_FILE:-}" ] && [ "$cmd" = aws ]; then printf '  AWS_CONFIG_FILE=%s\n' "$AWS_CONFIG_FILE" >> "$STUB_CALLS"; fi
while IFS= read -r pattern; do
  [ -n "$pattern" ] || continue
  # shellcheck disable=SC2053
  if [[ $call == $pattern ]]; then echo "stub $cmd: failing on purpose" >&2; exit 1; fi
done <<< "${'$'}{STUB_FAIL:-}"
S="$STUB_STATE"
case "$cmd" in
  curl)
    case "$*" in
      *api/token*) printf 'imds-token' ;;
      *instance-id*) printf '${INSTANCE_ID}' ;;
      *placement/region*) printf '${IMDS_REGION}' ;;
      *) exit 22 ;;
    esac ;;
  id) [ -e "$S/user-$2" ] || { echo "id: '$2': no such user" >&2; exit 1; }; echo 990 ;;
  useradd)
    user="${'$'}{@: -1}"
    if [ -e "$S/user-$user" ]; then echo "useradd: user '$user' already exists" >&2; exit 9; fi
    touch "$S/user-$user" ;;
  dnf)
    for pkg in "$@"; do
      case "$pkg" in
        nodejs*) ln -sf "$STUB_NODE" "$STUB_BIN/node-${'$'}{pkg#nodejs}" ;;
        docker) ln -sf "$STUB_BIN/.stub" "$STUB_BIN/docker" ;;
        nvidia-container-toolkit) ln -sf "$STUB_BIN/.stub" "$STUB_BIN/nvidia-ctk" ;;
        amazon-cloudwatch-agent)
          mkdir -p "$AI_BURST_ROOT/opt/aws/amazon-cloudwatch-agent/bin"
          ln -sf "$STUB_BIN/.stub" "$AI_BURST_ROOT/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl" ;;
      esac
    done ;;
  aws)
    case "$1 $2" in
      "s3 cp") printf 'worker bundle from %s\n' "$3" > "$4" ;;
      "s3 sync") mkdir -p "$4" && printf '{"architectures":["Qwen2ForCausalLM"]}\n' > "$4/config.json" ;;
      "ecr get-login-password") printf 'ecr-password' ;;
    esac ;;
  docker)
    case "$1" in
      info)
        if [ "${'$'}{2:-}" = --format ]; then
          if [ -e "$S/nvidia-runtime" ]; then printf '{"nvidia":{},"runc":{}}'; else printf '{"runc":{}}'; fi
        fi ;;
      login) cat > "$S/docker-login-password" ;;
    esac ;;
  nvidia-ctk) touch "$S/nvidia-runtime" ;;
  nvidia-smi) echo 'GPU 0: NVIDIA L4 (UUID: GPU-00000000)' ;;
  lsblk) printf '%s' "${'$'}{STUB_LSBLK:-/dev/nvme0n1 Amazon Elastic Block Store}"; echo ;;
  blkid)
    dev="${'$'}{@: -1}"; f="$S/fs-$(basename "$dev")"
    [ -e "$f" ] || exit 2
    case "$*" in *TYPE*) cat "$f" ;; *UUID*) echo '${DISK_UUID}' ;; esac ;;
  mkfs.xfs) echo xfs > "$S/fs-$(basename "${'$'}{@: -1}")" ;;
  mountpoint) grep -qxF "${'$'}{@: -1}" "$S/mounts" 2>/dev/null || exit 32 ;;
  mount) printf '%s\n' "${'$'}{@: -1}" >> "$S/mounts" ;;
  sleep) case "$1" in 0.*) "$STUB_REAL_SLEEP" "$1" ;; esac ;;
esac
exit 0
`;

export interface Sandbox {
  readonly dir: string;
  /** AI_BURST_ROOT: the instance's file system. */
  readonly root: string;
  readonly bin: string;
  readonly state: string;
  /** Install a stub for a command that is missing at first (e.g. docker before dnf installs it). */
  addStub(name: string): void;
  /** Remove a stub (the command is then missing). */
  removeStub(name: string): void;
  /** Run the script; `fail` are STUB_FAIL patterns, `env` extra variables. */
  run(script: string, options?: { fail?: string[]; env?: Record<string, string> }): RunResult;
  /** The calls logged so far, one `<command> <args>` a line (indented lines are details of the call above). */
  calls(): string[];
  /** A file under the root, or undefined. */
  read(file: string): string | undefined;
  mode(file: string): string;
  cleanUp(): void;
}

export interface RunResult {
  readonly status: number | null;
  readonly output: string;
  readonly ms: number;
}

function which(tool: string): string {
  for (const dir of ['/usr/bin', '/bin', '/usr/local/bin']) {
    const p = path.join(dir, tool);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(`boot sandbox: ${tool} not found`);
}

export function createSandbox(options: { withDocker?: boolean; withNvidiaCtk?: boolean } = {}): Sandbox {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ai-burst-boot-'));
  const root = path.join(dir, 'root');
  const bin = path.join(dir, 'bin');
  const state = path.join(dir, 'state');
  const callsFile = path.join(dir, 'calls.log');
  for (const d of [root, bin, state]) fs.mkdirSync(d, { recursive: true });
  for (const tool of REAL_TOOLS) fs.symlinkSync(which(tool), path.join(bin, tool));
  fs.writeFileSync(path.join(bin, '.stub'), STUB, { mode: 0o755 });
  const addStub = (name: string) => {
    const p = path.join(bin, name);
    if (!fs.existsSync(p)) fs.symlinkSync(path.join(bin, '.stub'), p);
  };
  for (const name of STUBBED) if (name !== 'nvidia-ctk') addStub(name);
  if (options.withDocker ?? true) addStub('docker');
  if (options.withNvidiaCtk ?? true) addStub('nvidia-ctk');
  fs.writeFileSync(callsFile, '');
  const bash = which('bash');
  return {
    dir,
    root,
    bin,
    state,
    addStub,
    removeStub: (name) => fs.rmSync(path.join(bin, name), { force: true }),
    run(script, o = {}) {
      const started = Date.now();
      const r = spawnSync(bash, ['-c', script], {
        env: {
          PATH: bin,
          HOME: path.join(dir, 'home'),
          AI_BURST_ROOT: root,
          STUB_CALLS: callsFile,
          STUB_STATE: state,
          STUB_BIN: bin,
          STUB_NODE: process.execPath,
          STUB_REAL_SLEEP: which('sleep'),
          STUB_FAIL: (o.fail ?? []).join('\n'),
          ...o.env,
        },
        encoding: 'utf8',
        timeout: 20_000,
      });
      return { status: r.status, output: `${r.stdout}${r.stderr}`, ms: Date.now() - started };
    },
    calls: () => fs.readFileSync(callsFile, 'utf8').split('\n').filter(Boolean),
    read(file) {
      const p = path.join(root, file);
      return fs.existsSync(p) ? fs.readFileSync(p, 'utf8') : undefined;
    },
    mode: (file) => (fs.statSync(path.join(root, file)).mode & 0o777).toString(8).padStart(4, '0'),
    cleanUp: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * A launch template's user data (the CloudFormation expression) as the instance would get it: pseudo parameters
 * and references replaced by plausible values.
 */
export function resolveUserData(value: unknown, region = 'us-east-1'): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  const o = value as Record<string, any>;
  if (o?.['Fn::Base64']) return resolveUserData(o['Fn::Base64'], region);
  if (o?.['Fn::Join']) return (o['Fn::Join'][1] as unknown[]).map((v) => resolveUserData(v, region)).join(o['Fn::Join'][0]);
  const pseudo: Record<string, string> = {
    'AWS::Region': region,
    'AWS::StackName': 'TestStack',
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::AccountId': '123456789012',
  };
  if (o?.Ref) return pseudo[o.Ref] ?? `ref-${String(o.Ref).toLowerCase()}`;
  if (typeof o?.['Fn::Sub'] === 'string')
    return o['Fn::Sub'].replace(/\$\{([^}]+)\}/g, (_: string, k: string) => pseudo[k] ?? `ref-${k.toLowerCase()}`);
  if (o?.['Fn::GetAtt']) return `att-${o['Fn::GetAtt'].join('-').toLowerCase()}`;
  throw new Error(`resolveUserData: cannot resolve ${JSON.stringify(value)}`);
}
