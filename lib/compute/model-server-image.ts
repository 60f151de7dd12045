import { Annotations, ArnFormat, Aws, Stack, Token } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { propError } from '../common/validate';

/** What the boot script needs to pull an image (the fleet's role is granted the pull when the image is bound). */
export interface ModelServerImageConfig {
  /** The reference `docker pull` and `docker run` take, e.g. `<account>.dkr.ecr.<region>.amazonaws.com/vllm:<tag>`. */
  readonly imageUri: string;
  /**
   * The ECR registry the boot script logs in to before the pull (`<account>.dkr.ecr.<region>.<url suffix>`).
   * @default - no login: a public image
   */
  readonly ecrRegistry?: string;
  /**
   * Region of `ecrRegistry` (`aws ecr get-login-password --region`).
   * @default - no login
   */
  readonly ecrRegion?: string;
}

/** An image cached by an ECR pull-through cache rule you created (for Docker Hub, ECR Public, Quay, GHCR, …). */
export interface PullThroughCacheImageOptions {
  /** The rule's ECR repository prefix, e.g. `docker-hub`. */
  readonly ecrRepositoryPrefix: string;
  /**
   * The image's repository in the upstream registry, e.g. `vllm/vllm-openai` (Docker Hub's official images are
   * `library/<name>`). The cached repository is `<ecrRepositoryPrefix>/<upstreamRepository>`.
   */
  readonly upstreamRepository: string;
  /** The image's tag (or digest, `sha256:…`); pin a version: `latest` changes under you. */
  readonly tag: string;
}

/** Account of the AWS Deep Learning Containers registry in the standard commercial regions. */
export const DLC_ACCOUNT = '763104351884';
/** The vLLM Deep Learning Container for EC2 that `ModelServer.vllm()` runs by default (vLLM 0.11.0, CUDA 12.8). */
export const DEFAULT_VLLM_DLC_TAG = '0.11.0-gpu-py312-cu128-ubuntu22.04-ec2';
/**
 * Regions whose Deep Learning Containers live in another account than DLC_ACCOUNT (opt-in regions, Osaka, China),
 * from the DLC "available images" table. A stack in one of them must name its image.
 */
const DLC_OTHER_ACCOUNTS: Readonly<Record<string, string>> = {
  'af-south-1': '626614931356',
  'ap-east-1': '871362719292',
  'ap-south-2': '772153158452',
  'ap-southeast-3': '907027046896',
  'ap-southeast-4': '457447274322',
  'ap-southeast-5': '550225433462',
  'ap-southeast-7': '590183813437',
  'ap-northeast-3': '364406365360',
  'ca-west-1': '204538143572',
  'eu-south-1': '692866216735',
  'eu-south-2': '503227376785',
  'eu-central-2': '380420809688',
  'il-central-1': '780543022126',
  'mx-central-1': '637423239942',
  'me-south-1': '217643126080',
  'me-central-1': '914824155844',
  'cn-north-1': '727897471807',
  'cn-northwest-1': '727897471807',
};

/** The three actions `docker pull` needs on a repository; `ecr:GetAuthorizationToken` (login) has no resource. */
export const ECR_PULL_ACTIONS = ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'];
/** What the first pull through a cache rule does besides: import the upstream image into a repository it creates. */
export const PULL_THROUGH_CACHE_ACTIONS = ['ecr:BatchImportUpstreamImage', 'ecr:CreateRepository'];

const ECR_URI =
  /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([a-z0-9][a-z0-9._/-]*?)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$/;
const DOCKER_HUB_HOSTS = ['docker.io', 'index.docker.io', 'registry-1.docker.io'];
const TAG = /^(?:[\w][\w.-]{0,127}|sha256:[a-f0-9]{64})$/;
const REPOSITORY = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;

/**
 * The container image of a model server, and how the instances get it. An image in ECR (your repository, a
 * pull-through cache, the AWS Deep Learning Containers) is pulled with a login and pull permissions on that
 * repository only; an anonymous Docker Hub image is allowed with a synth warning (10 pulls per hour per IP).
 */
export abstract class ModelServerImage {
  /** An image in an ECR repository: login, and pull permissions on that repository. */
  public static fromEcrRepository(repository: ecr.IRepository, tag?: string): ModelServerImage {
    return new EcrRepositoryImage(repository, tag ?? 'latest');
  }

  /**
   * Any image reference. An ECR URI (`<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>`) gets the login
   * and pull permissions on that repository; a Docker Hub image (no registry host, or docker.io) a synth warning.
   */
  public static fromRegistry(uri: string): ModelServerImage {
    return new RegistryImage(uri);
  }

  /**
   * An image cached by an ECR pull-through cache rule you created in this stack's account and region:
   * `<account>.dkr.ecr.<region>.amazonaws.com/<ecrRepositoryPrefix>/<upstreamRepository>:<tag>`. The role may pull
   * from, import into and create that one cached repository (the first pull creates it).
   */
  public static fromPullThroughCache(options: PullThroughCacheImageOptions): ModelServerImage {
    return new PullThroughCacheImage(options);
  }

  /**
   * An AWS Deep Learning Containers image for this stack's region (account 763104351884, which serves the standard
   * commercial regions; an opt-in region needs `fromRegistry` with its own registry).
   */
  public static fromDeepLearningContainers(repositoryName: string, tag: string): ModelServerImage {
    return new DeepLearningContainerImage(repositoryName, tag);
  }

  /** Validates the image (throws naming the prop), grants `grantee` the pull and says how to pull it. */
  public abstract bind(scope: Construct, grantee: iam.IGrantable): ModelServerImageConfig;
}

/** Sid of the login statement: a statement with a Sid is never merged with others (`minimizePolicies`), so it stays alone. */
export const ECR_LOGIN_SID = 'AiBurstEcrLogin';

/** Login + pull permissions on `repositoryArns`; GetAuthorizationToken supports only `*` (acknowledged on the fleet's role). */
function grantPull(grantee: iam.IGrantable, repositoryArns: string[], extraActions: string[] = []): void {
  iam.Grant.addToPrincipal({ grantee, actions: [...ECR_PULL_ACTIONS, ...extraActions], resourceArns: repositoryArns });
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({ sid: ECR_LOGIN_SID, actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }),
  );
}

function registryOf(account: string, region: string): string {
  return `${account}.dkr.ecr.${region}.${Aws.URL_SUFFIX}`;
}

function repositoryArn(scope: Construct, account: string, region: string, name: string): string {
  return Stack.of(scope).formatArn({
    service: 'ecr',
    account,
    region,
    resource: 'repository',
    resourceName: name,
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
  });
}

function validateTag(factory: string, prop: string, tag: string): void {
  if (Token.isUnresolved(tag)) return;
  if (!TAG.test(tag))
    throw propError(factory, prop, `must be an image tag ([A-Za-z0-9_.-], up to 128 characters) or a sha256: digest (got ${JSON.stringify(tag)})`);
}

function withTag(base: string, tag: string): string {
  return tag.startsWith('sha256:') ? `${base}@${tag}` : `${base}:${tag}`;
}

class EcrRepositoryImage extends ModelServerImage {
  constructor(
    private readonly repository: ecr.IRepository,
    private readonly tag: string,
  ) {
    super();
  }

  public bind(_scope: Construct, grantee: iam.IGrantable): ModelServerImageConfig {
    validateTag('ModelServerImage.fromEcrRepository', 'tag', this.tag);
    const { account, region } = this.repository.env;
    grantPull(grantee, [this.repository.repositoryArn]);
    return {
      imageUri: this.tag.startsWith('sha256:') ? this.repository.repositoryUriForDigest(this.tag) : this.repository.repositoryUriForTag(this.tag),
      ecrRegistry: registryOf(account, region),
      ecrRegion: region,
    };
  }
}

class RegistryImage extends ModelServerImage {
  constructor(private readonly uri: string) {
    super();
  }

  public bind(scope: Construct, grantee: iam.IGrantable): ModelServerImageConfig {
    const uri = this.uri;
    if (typeof uri !== 'string' || uri.trim() === '' || /\s/.test(uri)) {
      throw propError(
        'ModelServerImage.fromRegistry',
        'uri',
        `must name a container image, e.g. ${DLC_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/vllm:${DEFAULT_VLLM_DLC_TAG} (got ${JSON.stringify(uri)})`,
      );
    }
    // A token is known only at deploy time: no login, no warning (use fromEcrRepository for a token ECR image).
    if (Token.isUnresolved(uri)) return { imageUri: uri };
    const ecrMatch = ECR_URI.exec(uri);
    if (ecrMatch) {
      const [, account, region, repository] = ecrMatch;
      grantPull(grantee, [repositoryArn(scope, account, region, repository)]);
      return { imageUri: uri, ecrRegistry: uri.split('/')[0], ecrRegion: region };
    }
    if (isDockerHub(uri)) {
      Annotations.of(scope).addWarningV2(
        'cdk-ai-burst:dockerHubImage',
        `the model server image ${uri} is pulled anonymously from Docker Hub, which allows 10 pulls per hour per IP address; ` +
          'every instance behind one NAT gateway shares its IP, so from the 11th launch in an hour the pull fails and the instance ' +
          'is replaced (BootFailures). Cache it in ECR with a pull-through cache rule for Docker Hub (ModelServerImage.fromPullThroughCache) ' +
          'or copy it into your own repository (ModelServerImage.fromEcrRepository)',
      );
    }
    return { imageUri: uri };
  }
}

/** Docker Hub: no registry host before the first `/` (a host has a dot or a port, or is localhost), or a docker.io host. */
export function isDockerHub(uri: string): boolean {
  const slash = uri.indexOf('/');
  if (slash < 0) return true;
  const first = uri.slice(0, slash);
  if (DOCKER_HUB_HOSTS.includes(first)) return true;
  return !(first.includes('.') || first.includes(':') || first === 'localhost');
}

class PullThroughCacheImage extends ModelServerImage {
  constructor(private readonly options: PullThroughCacheImageOptions) {
    super();
  }

  public bind(scope: Construct, grantee: iam.IGrantable): ModelServerImageConfig {
    const name = 'ModelServerImage.fromPullThroughCache';
    const { ecrRepositoryPrefix: prefix, upstreamRepository: upstream, tag } = this.options;
    for (const [prop, value] of [
      ['ecrRepositoryPrefix', prefix],
      ['upstreamRepository', upstream],
    ] as const) {
      if (!Token.isUnresolved(value) && (typeof value !== 'string' || !REPOSITORY.test(value) || value.length > 200)) {
        throw propError(
          name,
          prop,
          `must be an ECR repository path (lower-case letters, digits, . _ - and /), e.g. docker-hub (got ${JSON.stringify(value)})`,
        );
      }
    }
    validateTag(name, 'tag', tag);
    const stack = Stack.of(scope);
    const repository = `${prefix}/${upstream}`;
    // The one cached repository, not the rule's whole prefix: the other images behind the rule are not this fleet's.
    grantPull(grantee, [repositoryArn(scope, stack.account, stack.region, repository)], PULL_THROUGH_CACHE_ACTIONS);
    const registry = registryOf(stack.account, stack.region);
    return { imageUri: withTag(`${registry}/${repository}`, tag), ecrRegistry: registry, ecrRegion: stack.region };
  }
}

class DeepLearningContainerImage extends ModelServerImage {
  constructor(
    private readonly repositoryName: string,
    private readonly tag: string,
  ) {
    super();
  }

  public bind(scope: Construct, grantee: iam.IGrantable): ModelServerImageConfig {
    const name = 'ModelServerImage.fromDeepLearningContainers';
    if (!Token.isUnresolved(this.repositoryName) && !REPOSITORY.test(this.repositoryName)) {
      throw propError(
        name,
        'repositoryName',
        `must be a Deep Learning Containers repository, e.g. vllm (got ${JSON.stringify(this.repositoryName)})`,
      );
    }
    validateTag(name, 'tag', this.tag);
    const region = Stack.of(scope).region;
    const other = Token.isUnresolved(region) ? undefined : DLC_OTHER_ACCOUNTS[region];
    if (other) {
      throw propError(
        name,
        'image',
        `is an AWS Deep Learning Containers image (the default of ModelServer.vllm()), and account ${DLC_ACCOUNT} does not serve ${region} ` +
          `(its registry there is account ${other}); ` +
          `give an image, e.g. ModelServerImage.fromRegistry('${other}.dkr.ecr.${region}.${region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com'}/` +
          `${this.repositoryName}:<tag>') with a tag that registry has, or an image in your own ECR repository`,
      );
    }
    grantPull(grantee, [repositoryArn(scope, DLC_ACCOUNT, region, this.repositoryName)]);
    const registry = registryOf(DLC_ACCOUNT, region);
    return { imageUri: withTag(`${registry}/${this.repositoryName}`, this.tag), ecrRegistry: registry, ecrRegion: region };
  }
}
