/**
 * How the JobApi handlers get their ApiConfig: from `AI_BURST_API_CONFIG` when set (tests, hand-built
 * deployments), else from the SSM parameters `AI_BURST_API_CONFIG_PARAMETERS` names (what JobApi deploys),
 * read once per cold start and merged.
 */
import { GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import { ApiConfig, ApiConfigPart, EnvNames, mergeApiConfigParts } from '../../lib/contracts';
import { requireJsonEnv } from '../env';

/** GetParameters takes at most 10 names per call. */
const NAMES_PER_CALL = 10;

export async function loadApiConfig(ssm: () => SSMClient, env: NodeJS.ProcessEnv = process.env): Promise<ApiConfig> {
  if (env[EnvNames.API_CONFIG]) return requireJsonEnv<ApiConfig>(EnvNames.API_CONFIG, env);
  const names = requireJsonEnv<string[]>(EnvNames.API_CONFIG_PARAMETERS, env);
  if (!Array.isArray(names) || names.length === 0) throw new Error(`environment variable ${EnvNames.API_CONFIG_PARAMETERS} names no parameter`);
  const client = ssm();
  const values = new Map<string, string>();
  for (let i = 0; i < names.length; i += NAMES_PER_CALL) {
    const out = await client.send(new GetParametersCommand({ Names: names.slice(i, i + NAMES_PER_CALL) }));
    if (out.InvalidParameters?.length) throw new Error(`ApiConfig parameters not found: ${out.InvalidParameters.join(', ')}`);
    for (const p of out.Parameters ?? []) values.set(p.Name!, p.Value!);
  }
  return mergeApiConfigParts(
    names.map((name) => {
      const value = values.get(name);
      if (value === undefined) throw new Error(`ApiConfig parameter ${name} was not returned`);
      try {
        return JSON.parse(value) as ApiConfigPart;
      } catch {
        throw new Error(`ApiConfig parameter ${name} is not valid JSON`);
      }
    }),
  );
}

/**
 * A handler built once from asynchronously loaded configuration. A failed load is not kept: the next
 * invocation tries again (a throttled GetParameters must not poison the execution environment).
 */
export function lazyHandler<E, R>(build: () => Promise<(event: E) => Promise<R>>): (event: E) => Promise<R> {
  let ready: Promise<(event: E) => Promise<R>> | undefined;
  return async (event: E) => {
    ready ??= build().catch((e: unknown) => {
      ready = undefined;
      throw e;
    });
    return (await ready)(event);
  };
}
