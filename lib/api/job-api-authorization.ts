import * as cognito from 'aws-cdk-lib/aws-cognito';
import { propError } from '../common/validate';

/** How callers of a JobApi authenticate. */
export enum JobApiAuthorizationKind {
  /** IAM SigV4 (`execute-api:Invoke`). */
  IAM = 'iam',
  /** Amazon Cognito user pool tokens. */
  COGNITO = 'cognito',
}

/** How callers of a JobApi authenticate. Every method of the API uses the same choice. */
export abstract class JobApiAuthorization {
  /**
   * AWS IAM (SigV4): callers sign with their role's credentials and need `execute-api:Invoke` on the
   * methods (`JobApi.grantSubmit`, `grantRead`, `grantCancel`). The default: no user directory to run, and
   * services on ECS, EC2 or Lambda already hold credentials.
   */
  public static iam(): JobApiAuthorization {
    return new IamAuthorization();
  }

  /**
   * Amazon Cognito user pools: callers send an ID token (or, with `scopes`, an access token carrying one
   * of the scopes) in the Authorization header.
   */
  public static cognito(options: CognitoAuthorizationOptions): JobApiAuthorization {
    // An authorizer without pools synthesizes ProviderARNs: [], which CloudFormation refuses at deploy.
    const pools = options.userPools?.length ?? 0;
    if (pools < 1 || pools > 1000) {
      throw propError('JobApiAuthorization.cognito', 'userPools', `must list 1 to 1000 user pools (got ${pools})`);
    }
    return new CognitoAuthorization(options);
  }

  /** Which scheme this is. */
  public abstract readonly kind: JobApiAuthorizationKind;
}

export interface CognitoAuthorizationOptions {
  /** The user pools whose tokens the API accepts (1 to 1000). */
  readonly userPools: cognito.IUserPool[];
  /**
   * OAuth scopes, one of which an access token must carry (e.g. `jobs/submit`).
   * @default - none: an ID token of the pool is enough
   */
  readonly scopes?: string[];
}

class IamAuthorization extends JobApiAuthorization {
  public readonly kind = JobApiAuthorizationKind.IAM;
}

/** @internal */
export class CognitoAuthorization extends JobApiAuthorization {
  public readonly kind = JobApiAuthorizationKind.COGNITO;
  constructor(public readonly options: CognitoAuthorizationOptions) {
    super();
  }
}
