/**
 * The measurement of docs/reliability.md ("Large pages"): the service as production starts it
 * (`npm run start:prod`: compiled code, its heap cap) serving a user with 1,000 maximal tasks
 * (255 + 10,000 four-byte characters each, 40 MB in all), to `--concurrency` (16) clients asking
 * for the default page at once, `--rounds` (5) times. Prints every status, whether each 503 had
 * Retry-After, the process's peak RSS (VmHWM) against the Kubernetes memory limit of
 * deploy/k8s/deployment.yaml, and whether the process is still alive.
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npm run -s measure:pages
 *
 * DATABASE_URL names a server where a scratch database may be created (and is dropped after).
 * Run `npm run prestart` first when `dist/` is missing or stale.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { Client } from 'pg';

const ROOT = resolve(__dirname, '..');
const SECRET = 'measure-page-memory-secret-of-32-characters';
const OWNER = 'maximal';

const { values } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '5' },
  },
});
const concurrency = Number(values.concurrency);
const rounds = Number(values.rounds);

const freePort = (): Promise<number> =>
  new Promise((done, fail) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => done(port));
    });
    probe.on('error', fail);
  });

const mebibytes = (kib: number): string => `${(kib / 1024).toFixed(0)} MiB`;

/** VmHWM (peak RSS) and VmRSS of a process, in KiB. */
function memoryOf(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  return { peak: field('VmHWM'), now: field('VmRSS') };
}

/** The container's memory limit in deploy/k8s/deployment.yaml, in KiB. */
function kubernetesLimitKiB(): number {
  const manifest = readFileSync(resolve(ROOT, 'deploy/k8s/deployment.yaml'), 'utf8');
  const limit = /limits:\s*\n(?:\s+\w+:.*\n)*?\s+memory:\s*(\d+)Mi/.exec(manifest)?.[1];
  if (!limit) throw new Error('no memory limit in deploy/k8s/deployment.yaml');
  return Number(limit) * 1024;
}

async function main(): Promise<void> {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) throw new Error('Set DATABASE_URL to a server where a database may be created');
  const database = `measure_pages_${randomUUID().slice(0, 8)}`;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;

  const port = await freePort();
  const startProd = (
    JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    }
  ).scripts['start:prod'];
  // `exec` in the script: the shell becomes the node process, whose pid is the one measured.
  const child = spawn('sh', ['-c', startProd], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: url.toString(),
      DB_MIGRATIONS_RUN: 'true',
      AUTH_JWT_SECRET: SECRET,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  let exited: string | null = null;
  child.on('exit', (code, signal) => (exited = `exit ${code ?? signal}`));
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let waited = 0; ; waited += 200) {
      if (exited) throw new Error(`the service stopped at start-up: ${exited}`);
      if (waited > 60_000) throw new Error('the service did not start within 60 s');
      if ((await fetch(`${base}/health/ready`).catch(() => null))?.ok) break;
      await new Promise((done) => setTimeout(done, 200));
    }
    const data = new Client({ connectionString: url.toString() });
    await data.connect();
    await data.query(
      `INSERT INTO tasks (user_id, title, description)
       SELECT $1, repeat($2, 255), repeat($2, 10000) FROM generate_series(1, 1000)`,
      [OWNER, '\u{1D11E}'],
    );
    await data.end();
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(OWNER)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET));

    const pid = child.pid as number;
    const atStart = memoryOf(pid);
    const statuses = new Map<string, number>();
    let bytes = 0;
    let items = 0;
    let with503 = 0;
    let without503RetryAfter = 0;
    const started = performance.now();
    for (let round = 0; round < rounds; round++) {
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          const response = await fetch(`${base}/api/${OWNER}/tasks`, {
            headers: { Authorization: `Bearer ${token}` },
          }).catch((error: Error) => ({ status: 0, error }) as const);
          if (!('headers' in response)) {
            statuses.set('connection failed', (statuses.get('connection failed') ?? 0) + 1);
            return;
          }
          const text = await response.text();
          statuses.set(String(response.status), (statuses.get(String(response.status)) ?? 0) + 1);
          if (response.status === 200) {
            bytes += Buffer.byteLength(text);
            items += (JSON.parse(text) as unknown[]).length;
          } else if (response.status === 503) {
            with503++;
            if (!response.headers.get('retry-after')) without503RetryAfter++;
          }
        }),
      );
    }
    const seconds = (performance.now() - started) / 1000;
    const alive = exited === null && (await fetch(`${base}/health/live`).catch(() => null))?.ok;
    const memory = exited ? null : memoryOf(pid);
    const limit = kubernetesLimitKiB();
    const pages = statuses.get('200') ?? 0;
    process.stdout.write(
      [
        `start command: npm run start:prod (${startProd})`,
        `${rounds} rounds of ${concurrency} concurrent default pages in ${seconds.toFixed(1)} s`,
        `statuses: ${JSON.stringify(Object.fromEntries(statuses))}`,
        `503 answers: ${with503}, of which without Retry-After: ${without503RetryAfter}`,
        `a 200 page: ${pages ? (items / pages).toFixed(0) : '-'} tasks, ${pages ? (bytes / pages / 1024).toFixed(0) : '-'} KiB on average`,
        `RSS: ${mebibytes(atStart.now)} before the load, peak ${memory ? mebibytes(memory.peak) : 'unknown (the process died)'}; Kubernetes limit ${mebibytes(limit)}`,
        `process alive after the load: ${alive ? 'yes' : `no (${exited ?? 'not answering'})`}`,
      ].join('\n') + '\n',
    );
    if (!alive || !memory || memory.peak >= limit || without503RetryAfter > 0) process.exitCode = 1;
    if ([...statuses.keys()].some((status) => status !== '200' && status !== '503')) {
      process.exitCode = 1;
    }
  } finally {
    child.kill('SIGINT');
    await new Promise((done) => (exited ? done(null) : child.once('exit', done)));
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
