/**
 * What a failed AWS call means for the person at the terminal: a missing region or credentials, a denied
 * action, a missing resource, each with how to fix it (one line, no stack). Other errors pass through as
 * `undefined` so the caller keeps the SDK's own name and message.
 */
export function awsSetupProblem(err: unknown, action: string): string | undefined {
  const e = err as { name?: string; message?: string };
  const name = e?.name ?? '';
  const message = e?.message ?? String(err);
  if (/region is missing/i.test(message)) {
    return 'no AWS region: pass --region R or set AWS_REGION (or set region in your AWS profile, ~/.aws/config)';
  }
  if (name === 'CredentialsProviderError' || /could not load credentials/i.test(message)) {
    return (
      'no AWS credentials found: set AWS_PROFILE to a configured profile (aws configure / aws sso login), ' +
      'or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY'
    );
  }
  if (/^(ExpiredToken|ExpiredTokenException|TokenRefreshRequired)$/.test(name) || /token.*expired/i.test(message)) {
    return `AWS credentials expired (${name}): refresh them (aws sso login, or new keys) and run again`;
  }
  if (/^(AccessDenied|AccessDeniedException|UnauthorizedOperation)$/.test(name)) {
    return `not allowed (${name}): your credentials need ${action}`;
  }
  return undefined;
}
