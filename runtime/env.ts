/** The one way handlers read configuration: fail at cold start, naming the variable, not mid-job. */
export function requireEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value === '') throw new Error(`environment variable ${name} is not set`);
  return value;
}

/** A JSON-valued variable (queue URL maps, policies). */
export function requireJsonEnv<T>(name: string, env: NodeJS.ProcessEnv = process.env): T {
  const raw = requireEnv(name, env);
  try {
    return JSON.parse(raw) as T;
  } catch {
    throw new Error(`environment variable ${name} is not valid JSON`);
  }
}
