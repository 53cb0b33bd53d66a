import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

/**
 * The raw environment: the process's variables, over those of `.env` in development. Tests and
 * production take theirs from the environment alone. The one `.env` loader of the service, the
 * migration CLI (`ormconfig.ts`) and `scripts/`; it leaves `process.env` as it is.
 */
export function readEnvironment(
  env: NodeJS.ProcessEnv = process.env,
  file = '.env',
): Record<string, string | undefined> {
  if (env.NODE_ENV === 'production' || env.NODE_ENV === 'test' || !existsSync(file)) {
    return { ...env };
  }
  return { ...parseEnv(readFileSync(file, 'utf8')), ...env };
}
