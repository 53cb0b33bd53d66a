import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';

import { loadSlack } from './machine-load';
import { TEST_JWT_SECRET } from './test-app';

const ROOT = resolve(__dirname, '../..');

export interface AppProcess {
  child: ChildProcess;
  /** Every line the process wrote, stdout and stderr interleaved. */
  lines: string[];
  /** Resolves with the first line matching `pattern`; rejects if the process exits first. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; atMs: number }>;
  startedAt: number;
}

/**
 * Runs `src/main.ts` in a child process (TypeScript compiled on the fly), as `npm start` would,
 * with exactly the environment given: for start-up, shutdown and restart behaviour, which a
 * test can only see from outside the process.
 */
export function spawnApp(env: Record<string, string>, cwd = ROOT): AppProcess {
  const startedAt = performance.now();
  const child = spawn(
    process.execPath,
    [
      '-r',
      resolve(ROOT, 'node_modules/ts-node/register/transpile-only'),
      resolve(ROOT, 'src/main.ts'),
    ],
    {
      cwd,
      env: {
        PATH: process.env.PATH ?? '',
        TS_NODE_PROJECT: resolve(ROOT, 'tsconfig.json'),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream?.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const complete = buffered.split('\n');
      buffered = complete.pop() ?? '';
      for (const line of complete) {
        lines.push(line);
        listeners.forEach((listener) => listener(line));
      }
    });
  }
  const exit = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
    atMs: performance.now() - startedAt,
  }));
  const waitForLine = (pattern: RegExp, timeoutMs = loadSlack(30_000)): Promise<string> =>
    new Promise((resolveLine, reject) => {
      const seen = lines.find((line) => pattern.test(line));
      if (seen) return resolveLine(seen);
      const timer = setTimeout(() => {
        listeners.delete(listener);
        reject(
          new Error(`no line matching ${pattern} within ${timeoutMs} ms:\n${lines.join('\n')}`),
        );
      }, timeoutMs);
      const listener = (line: string): void => {
        if (!pattern.test(line)) return;
        clearTimeout(timer);
        listeners.delete(listener);
        resolveLine(line);
      };
      listeners.add(listener);
      void exit.then(({ code }) => {
        clearTimeout(timer);
        if (listeners.delete(listener)) {
          reject(
            new Error(`exited (${code}) before a line matching ${pattern}:\n${lines.join('\n')}`),
          );
        }
      });
    });
  return { child, lines, waitForLine, exit, startedAt };
}

/** The URL the app listens on, from its "tasks service listening" log line. */
/**
 * `spawnApp` for a test that talks to the service: on a free loopback port, against `databaseUrl`,
 * with the tests' signing secret; `env` adds to or overrides that.
 */
export function spawnServingApp(databaseUrl: string, env: Record<string, string> = {}): AppProcess {
  return spawnApp({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    ...env,
  });
}

export async function listeningUrl(app: AppProcess, timeoutMs?: number): Promise<string> {
  const line = await app.waitForLine(/tasks service listening/, timeoutMs);
  return (JSON.parse(line) as { url: string }).url;
}
