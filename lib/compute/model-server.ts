import { ModelServerKind, WorkerModelServerConfig } from '../contracts';
import { propError, validateInteger } from '../common/validate';

/** Options every model server shares. */
export interface ModelServerBaseOptions {
  /**
   * Local TCP port the server listens on (bound to 127.0.0.1 only; the worker is its only client).
   * @default 8000
   */
  readonly port?: number;
  /**
   * Path the worker polls until it answers 2xx before it takes jobs.
   * @default '/health' for OpenAI-compatible servers, '/ping' for `invocations` servers
   */
  readonly healthPath?: string;
}

export interface VllmModelServerOptions extends ModelServerBaseOptions {
  /**
   * Hugging Face model id vLLM serves; also the model the worker sends when a job names none. Default: a
   * 7B instruct model that fits one 24 GB GPU (L4, A10G) in bf16 with an 8k context.
   * @default 'Qwen/Qwen2.5-7B-Instruct'
   */
  readonly model?: string;
  /**
   * Container image of vLLM's OpenAI-compatible server. Pin a version: `latest` changes under you.
   * @default 'vllm/vllm-openai:v0.11.0'
   */
  readonly image?: string;
  /**
   * Extra arguments for `vllm serve` (after `--model`).
   * @default ['--max-model-len', '8192', '--gpu-memory-utilization', '0.90']
   */
  readonly extraArgs?: string[];
}

export interface ContainerModelServerOptions extends ModelServerBaseOptions {
  /** The API the container speaks: `ModelServerKind.OPENAI` (chat/completions) or `ModelServerKind.INVOCATIONS`. */
  readonly kind: ModelServerKind;
  /** Image to run with `docker run --gpus all`. */
  readonly image: string;
  /** Port the server listens on inside the container. @default - same as `port` */
  readonly containerPort?: number;
  /** Arguments after the image. @default [] */
  readonly args?: string[];
  /** Model name the worker sends when a job names none. @default - none */
  readonly defaultModel?: string;
}

export interface CommandsModelServerOptions extends ModelServerBaseOptions {
  readonly kind: ModelServerKind;
  /**
   * Shell lines (bash, run as root from a systemd unit) that start the server in the foreground; the
   * unit restarts them if they exit. The last line must not return while the server runs (e.g. `exec …`).
   */
  readonly commands: string[];
  /** Model name the worker sends when a job names none. @default - none */
  readonly defaultModel?: string;
}

/** The model server as the user data starts it and the worker config describes it. */
export interface ModelServerConfig {
  /** What the worker needs to call it (written to the worker config). */
  readonly worker: WorkerModelServerConfig;
  /** Bash lines of the `ai-burst-model-server` systemd unit's start script; they stay in the foreground. */
  readonly startScript: string[];
}

const DEFAULT_VLLM_IMAGE = 'vllm/vllm-openai:v0.11.0';
const DEFAULT_VLLM_MODEL = 'Qwen/Qwen2.5-7B-Instruct';
/** Model weights survive a container restart here (on the instance's root volume). */
export const MODEL_CACHE_DIR = '/opt/ai-burst/model-cache';

/**
 * The model server each GPU instance runs next to the worker. It listens on 127.0.0.1 only.
 *
 * - `ModelServer.vllm()` (default): vLLM's OpenAI-compatible server from its official image, run with
 *   Docker and the NVIDIA container toolkit that the Deep Learning Base AMI ships.
 * - `ModelServer.container()`: any image serving the OpenAI API or `/invocations`.
 * - `ModelServer.commands()`: your own start commands (e.g. a binary baked into a custom AMI).
 */
export abstract class ModelServer {
  /** vLLM's OpenAI-compatible server (Docker, `--gpus all`, weights cached on the root volume). */
  public static vllm(options: VllmModelServerOptions = {}): ModelServer {
    const model = options.model ?? DEFAULT_VLLM_MODEL;
    const port = options.port ?? 8000;
    const args = options.extraArgs ?? ['--max-model-len', '8192', '--gpu-memory-utilization', '0.90'];
    const image = options.image ?? DEFAULT_VLLM_IMAGE;
    return new FixedModelServer(
      'ModelServer.vllm',
      {
        worker: {
          kind: ModelServerKind.OPENAI,
          baseUrl: `http://127.0.0.1:${port}`,
          healthPath: options.healthPath ?? '/health',
          defaultModel: model,
          stream: true,
        },
        startScript: dockerRun(image, port, 8000, ['--model', model, ...args], `-v ${MODEL_CACHE_DIR}:/root/.cache/huggingface`),
      },
      port,
      options.healthPath,
      () => validateImage('ModelServer.vllm', image),
    );
  }

  /** Any containerized server speaking the OpenAI API or `/invocations`. */
  public static container(options: ContainerModelServerOptions): ModelServer {
    const name = 'ModelServer.container';
    const port = options.port ?? 8000;
    return new FixedModelServer(
      name,
      {
        worker: workerModelServer(options, port),
        startScript: dockerRun(options.image, port, options.containerPort ?? port, options.args ?? [], ''),
      },
      port,
      options.healthPath,
      () => {
        validateKind(name, options.kind);
        validateImage(name, options.image);
        validateInteger(name, 'containerPort', options.containerPort, 1, 65535);
      },
    );
  }

  /** Your own start commands, run in the foreground by a systemd unit. */
  public static commands(options: CommandsModelServerOptions): ModelServer {
    const name = 'ModelServer.commands';
    if (options.commands.length === 0) throw propError(name, 'commands', 'must list at least one line (got none)');
    const port = options.port ?? 8000;
    return new FixedModelServer(
      name,
      {
        worker: workerModelServer(options, port),
        startScript: [...options.commands],
      },
      port,
      options.healthPath,
      () => validateKind(name, options.kind),
    );
  }

  /** The worker config section and start script; validates the options (throws naming the prop). */
  public abstract bind(): ModelServerConfig;
}

/**
 * Checked when a fleet binds the server, so the fleet (and a platform above it) can name the prop by its
 * path. Each of these, left through, makes the model server unit fail and restart forever at boot.
 */
class FixedModelServer extends ModelServer {
  constructor(
    private readonly factory: string,
    private readonly config: ModelServerConfig,
    private readonly port: number,
    private readonly healthPath: string | undefined,
    private readonly validate: () => void,
  ) {
    super();
  }

  public bind(): ModelServerConfig {
    validateInteger(this.factory, 'port', this.port, 1024, 65535);
    if (this.healthPath !== undefined && !/^\/[A-Za-z0-9._~/-]*$/.test(this.healthPath)) {
      throw propError(this.factory, 'healthPath', `${JSON.stringify(this.healthPath)} must be a URL path starting with /`);
    }
    this.validate();
    return this.config;
  }
}

const KINDS: readonly string[] = Object.values(ModelServerKind);

function validateKind(factory: string, kind: ModelServerKind): void {
  if (!KINDS.includes(kind)) {
    throw propError(factory, 'kind', `must be ModelServerKind.OPENAI or ModelServerKind.INVOCATIONS (got ${JSON.stringify(kind)})`);
  }
}

function validateImage(factory: string, image: string): void {
  if (typeof image !== 'string' || image.trim() === '' || /\s/.test(image)) {
    throw propError(factory, 'image', `must name a container image, e.g. ${DEFAULT_VLLM_IMAGE} (got ${JSON.stringify(image)})`);
  }
}

function defaultHealthPath(kind: ModelServerKind): string {
  return kind === ModelServerKind.INVOCATIONS ? '/ping' : '/health';
}

/** Single-quote for bash. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function dockerRun(image: string, hostPort: number, containerPort: number, args: string[], extra: string): string[] {
  return [
    'docker rm -f ai-burst-model-server >/dev/null 2>&1 || true',
    `exec docker run --rm --name ai-burst-model-server --gpus all --ipc=host -p 127.0.0.1:${hostPort}:${containerPort} ` +
      `${extra ? `${extra} ` : ''}${shellQuote(image)}${args.length ? ' ' + args.map(shellQuote).join(' ') : ''}`,
  ];
}

/** What the worker needs to reach a server on this instance (same for any container or command). */
function workerModelServer(options: { kind: ModelServerKind; healthPath?: string; defaultModel?: string }, port: number): WorkerModelServerConfig {
  return {
    kind: options.kind,
    baseUrl: `http://127.0.0.1:${port}`,
    healthPath: options.healthPath ?? defaultHealthPath(options.kind),
    ...(options.defaultModel ? { defaultModel: options.defaultModel } : {}),
    ...(options.kind === ModelServerKind.OPENAI ? { stream: true } : {}),
  };
}
