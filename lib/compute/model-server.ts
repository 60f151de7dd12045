import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { ModelServerKind, WorkerModelServerConfig } from '../contracts';
import { PropError, propError, validateInteger, withinProps } from '../common/validate';
import { DEFAULT_VLLM_DLC_TAG, ModelServerImage, ModelServerImageConfig } from './model-server-image';
import { ModelWeights, ModelWeightsConfig } from './model-weights';

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
   * Container image of vLLM's OpenAI-compatible server (its entrypoint takes the server's arguments). Pin a version:
   * `latest` changes under you.
   * @default - the AWS Deep Learning Containers vLLM 0.11.0 image for EC2 in the stack's region (ECR, account 763104351884:
   * `763104351884.dkr.ecr.<region>.amazonaws.com/vllm:0.11.0-gpu-py312-cu128-ubuntu22.04-ec2`); an opt-in region needs an image
   */
  readonly image?: ModelServerImage;
  /**
   * Weights to copy to local disk at boot; vLLM then loads them from there (`--model /opt/ai-burst/weights`) and serves
   * them under `model` (`--served-model-name`), so jobs naming the model still work.
   * @default - vLLM downloads `model` from Hugging Face at start (cached on the root volume)
   */
  readonly weights?: ModelWeights;
  /**
   * Extra arguments for the server (after `--model`).
   * @default ['--max-model-len', '8192', '--gpu-memory-utilization', '0.90']
   */
  readonly extraArgs?: string[];
}

export interface ContainerModelServerOptions extends ModelServerBaseOptions {
  /** The API the container speaks: `ModelServerKind.OPENAI` (chat/completions) or `ModelServerKind.INVOCATIONS`. */
  readonly kind: ModelServerKind;
  /** Image to run with `docker run --gpus all`, pulled at boot (before the server starts). */
  readonly image: ModelServerImage;
  /**
   * Weights to copy to local disk at boot, mounted read-only into the container at MODEL_WEIGHTS_DIR
   * (`/opt/ai-burst/weights`): point your `args` there.
   * @default - none
   */
  readonly weights?: ModelWeights;
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
  /**
   * The image the boot script pulls (with retries) before the server starts; the unit then runs it without pulling.
   * @default - none: the server is not a container (`ModelServer.commands()`)
   */
  readonly image?: ModelServerImageConfig;
  /**
   * Weights the boot script copies to MODEL_WEIGHTS_DIR before the server starts.
   * @default - none
   */
  readonly weights?: ModelWeightsConfig;
}

const DEFAULT_VLLM_MODEL = 'Qwen/Qwen2.5-7B-Instruct';
/** Hugging Face downloads survive a container restart here (on the instance's root volume). */
export const MODEL_CACHE_DIR = '/opt/ai-burst/model-cache';
/** Weights copied from S3 land here: the instance store mounted there when the type has one, else the root volume. */
export const MODEL_WEIGHTS_DIR = '/opt/ai-burst/weights';
const IMAGE_EXAMPLE = `ModelServerImage.fromEcrRepository(repository, 'v1')`;

/**
 * The model server each GPU instance runs next to the worker. It listens on 127.0.0.1 only.
 *
 * - `ModelServer.vllm()` (default): vLLM's OpenAI-compatible server from the AWS Deep Learning Containers image in
 *   ECR, run with Docker and the NVIDIA container toolkit (the boot script installs and configures them when missing).
 * - `ModelServer.container()`: any image serving the OpenAI API or `/invocations`.
 * - `ModelServer.commands()`: your own start commands (e.g. a binary baked into a custom AMI).
 *
 * Images are pulled and weights copied by the boot script, before the server's unit starts: a failure there is a
 * reported boot failure (the instance is replaced), not a unit restarting forever.
 */
export abstract class ModelServer {
  /** vLLM's OpenAI-compatible server (Docker, `--gpus all`, Hugging Face downloads cached on the root volume). */
  public static vllm(options: VllmModelServerOptions = {}): ModelServer {
    const name = 'ModelServer.vllm';
    const model = options.model ?? DEFAULT_VLLM_MODEL;
    const port = options.port ?? 8000;
    const args = options.extraArgs ?? ['--max-model-len', '8192', '--gpu-memory-utilization', '0.90'];
    const image = options.image ?? ModelServerImage.fromDeepLearningContainers('vllm', DEFAULT_VLLM_DLC_TAG);
    return new FixedModelServer(name, port, options.healthPath, (scope, grantee) => {
      const boundImage = bindImage(name, image, scope, grantee);
      const weights = options.weights ? bindWeights(name, options.weights, scope, grantee) : undefined;
      const modelArgs = weights ? ['--model', MODEL_WEIGHTS_DIR, '--served-model-name', model] : ['--model', model];
      return {
        worker: {
          kind: ModelServerKind.OPENAI,
          baseUrl: `http://127.0.0.1:${port}`,
          healthPath: options.healthPath ?? '/health',
          defaultModel: model,
          stream: true,
        },
        startScript: dockerRun(
          boundImage.imageUri,
          port,
          8000,
          [...modelArgs, ...args],
          [`${MODEL_CACHE_DIR}:/root/.cache/huggingface`, ...weightsMount(weights)],
        ),
        image: boundImage,
        ...(weights ? { weights } : {}),
      };
    });
  }

  /** Any containerized server speaking the OpenAI API or `/invocations`. */
  public static container(options: ContainerModelServerOptions): ModelServer {
    const name = 'ModelServer.container';
    const port = options.port ?? 8000;
    return new FixedModelServer(name, port, options.healthPath, (scope, grantee) => {
      validateKind(name, options.kind);
      validateInteger(name, 'containerPort', options.containerPort, 1, 65535);
      const boundImage = bindImage(name, options.image, scope, grantee);
      const weights = options.weights ? bindWeights(name, options.weights, scope, grantee) : undefined;
      return {
        worker: workerModelServer(options, port),
        startScript: dockerRun(boundImage.imageUri, port, options.containerPort ?? port, options.args ?? [], weightsMount(weights)),
        image: boundImage,
        ...(weights ? { weights } : {}),
      };
    });
  }

  /** Your own start commands, run in the foreground by a systemd unit. */
  public static commands(options: CommandsModelServerOptions): ModelServer {
    const name = 'ModelServer.commands';
    if (options.commands.length === 0) throw propError(name, 'commands', 'must list at least one line (got none)');
    const port = options.port ?? 8000;
    return new FixedModelServer(name, port, options.healthPath, () => {
      validateKind(name, options.kind);
      return { worker: workerModelServer(options, port), startScript: [...options.commands] };
    });
  }

  /**
   * The worker config section, start script, image and weights; validates the options (throws naming the prop)
   * and grants `grantee` (the fleet's instance role) the image pull and the weights read.
   */
  public abstract bind(scope: Construct, grantee: iam.IGrantable): ModelServerConfig;
}

/**
 * Checked when a fleet binds the server, so the fleet (and a platform above it) can name the prop by its
 * path. Each of these, left through, would make the instance fail at boot.
 */
class FixedModelServer extends ModelServer {
  constructor(
    private readonly factory: string,
    private readonly port: number,
    private readonly healthPath: string | undefined,
    private readonly build: (scope: Construct, grantee: iam.IGrantable) => ModelServerConfig,
  ) {
    super();
  }

  public bind(scope: Construct, grantee: iam.IGrantable): ModelServerConfig {
    validateInteger(this.factory, 'port', this.port, 1024, 65535);
    if (this.healthPath !== undefined && !/^\/[A-Za-z0-9._~/-]*$/.test(this.healthPath)) {
      throw propError(this.factory, 'healthPath', `${JSON.stringify(this.healthPath)} must be a URL path starting with /`);
    }
    return this.build(scope, grantee);
  }
}

/** The image's errors name it `image` (its URI) or `image.<option>`, under the server's factory. */
function bindImage(factory: string, image: ModelServerImage, scope: Construct, grantee: iam.IGrantable): ModelServerImageConfig {
  if (!(image instanceof ModelServerImage)) {
    throw new PropError(
      factory,
      (n) => `${n('image')} must name a container image: a ModelServerImage such as ${IMAGE_EXAMPLE} (got ${JSON.stringify(image)})`,
    );
  }
  return withinProps(
    factory,
    (_c, p) => (p === 'uri' || p === 'image' ? 'image' : `image.${p}`),
    () => image.bind(scope, grantee),
  );
}

function bindWeights(factory: string, weights: ModelWeights, scope: Construct, grantee: iam.IGrantable): ModelWeightsConfig {
  if (!(weights instanceof ModelWeights)) {
    throw new PropError(
      factory,
      (n) => `${n('weights')} must be a ModelWeights such as ModelWeights.fromBucket(bucket, 'models/m') (got ${JSON.stringify(weights)})`,
    );
  }
  return withinProps(
    factory,
    (_c, p) => `weights.${p}`,
    () => weights.bind(scope, grantee),
  );
}

function weightsMount(weights: ModelWeightsConfig | undefined): string[] {
  return weights ? [`${MODEL_WEIGHTS_DIR}:${MODEL_WEIGHTS_DIR}:ro`] : [];
}

const KINDS: readonly string[] = Object.values(ModelServerKind);

function validateKind(factory: string, kind: ModelServerKind): void {
  if (!KINDS.includes(kind)) {
    throw propError(factory, 'kind', `must be ModelServerKind.OPENAI or ModelServerKind.INVOCATIONS (got ${JSON.stringify(kind)})`);
  }
}

function defaultHealthPath(kind: ModelServerKind): string {
  return kind === ModelServerKind.INVOCATIONS ? '/ping' : '/health';
}

/** Single-quote for bash. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The unit's start script: the boot script pulled the image already, so `--pull never` (no registry at restart). */
function dockerRun(image: string, hostPort: number, containerPort: number, args: string[], volumes: string[]): string[] {
  return [
    'docker rm -f ai-burst-model-server >/dev/null 2>&1 || true',
    `exec docker run --rm --pull never --name ai-burst-model-server --gpus all --ipc=host -p 127.0.0.1:${hostPort}:${containerPort} ` +
      volumes.map((v) => `-v ${v} `).join('') +
      `${shellQuote(image)}${args.length ? ' ' + args.map(shellQuote).join(' ') : ''}`,
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
