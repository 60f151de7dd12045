import * as fs from 'node:fs';
import * as path from 'node:path';
import { ASSEMBLY_ENV } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const out = process.env[ASSEMBLY_ENV];
  if (out) fs.rmSync(path.dirname(out), { recursive: true, force: true });
}
