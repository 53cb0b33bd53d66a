/**
 * Measures the memory an open event stream costs (docs/events.md): starts the service (as
 * `npm start` would, on a database of its own that it migrates), opens STREAMS streams
 * (STREAMS / 10 users, 10 each, the most a user may hold), and compares the process's resident
 * memory before and after, with every stream open and idle. Then checks one write still reaches
 * a stream, and compares the latency of `GET` one task (8 connections, LOAD_SECONDS each) without
 * streams and with them all open: the request path's ratio.
 * `npx ts-node --transpile-only scripts/events-memory.ts` (DATABASE_ADMIN_URL, STREAMS, LOAD_SECONDS).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { resolve } from 'node:path';
import autocannon from 'autocannon';
import { SignJWT } from 'jose';
import { Client } from 'pg';

const ADMIN_URL = process.env.DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const STREAMS = Number(process.env.STREAMS ?? 1000);
const SECRET = 'events-memory-script-secret-at-least-32-chars';
const ROOT = resolve(__dirname, '..');
const LOAD_SECONDS = Number(process.env.LOAD_SECONDS ?? 8);
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Median and 99th percentile latency (ms) and requests per second of GET one task. */
async function getOneLatency(url: string, token: string): Promise<Record<string, number>> {
  const latencies: number[] = [];
  const instance = autocannon({
    url,
    connections: 8,
    duration: LOAD_SECONDS,
    requests: [
      {
        setupRequest: (request) => ({ ...request, headers: { Authorization: `Bearer ${token}` } }),
      },
    ],
  });
  instance.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => {
    latencies.push(ms);
  });
  await instance;
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(latencies[Math.floor(q * (latencies.length - 1))] * 100) / 100;
  return { p50: at(0.5), p99: at(0.99), rps: Math.round(latencies.length / LOAD_SECONDS) };
}

const rssKiB = (pid: number): number =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

async function admin(sql: string): Promise<void> {
  const client = new Client({ connectionString: ADMIN_URL });
  await client.connect();
  await client.query(sql);
  await client.end();
}

async function main(): Promise<void> {
  const database = `events_memory_${process.pid}`;
  await admin(`CREATE DATABASE ${database}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  const child = spawn(
    process.execPath,
    [
      '-r',
      resolve(ROOT, 'node_modules/ts-node/register/transpile-only'),
      resolve(ROOT, 'src/main.ts'),
    ],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'production',
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        DATABASE_URL: url.toString(),
        DB_MIGRATIONS_RUN: 'true',
        AUTH_JWT_SECRET: SECRET,
        EVENTS_MAX_STREAMS: String(STREAMS + 10),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  try {
    // LOG_LEVEL=warn hides the listening line: find the port from the process's sockets instead.
    let base: string | null = null;
    for (let attempt = 0; attempt < 300 && base === null; attempt++) {
      await sleep(500);
      const table = readFileSync('/proc/net/tcp', 'utf8').split('\n');
      const inodes = new Set(
        readdirSync(`/proc/${child.pid}/fd`).flatMap((fd) => {
          try {
            const link = readlinkSync(`/proc/${child.pid}/fd/${fd}`);
            const match = /socket:\[(\d+)\]/.exec(link);
            return match ? [match[1]] : [];
          } catch {
            return [];
          }
        }),
      );
      for (const line of table) {
        const fields = line.trim().split(/\s+/);
        // st 0A: LISTEN
        if (fields[3] === '0A' && inodes.has(fields[9])) {
          base = `http://127.0.0.1:${parseInt(fields[1].split(':')[1], 16)}`;
        }
      }
    }
    if (!base) throw new Error('the service did not start listening');
    const secret = new TextEncoder().encode(SECRET);
    const users = Math.ceil(STREAMS / 10);
    const tokens = await Promise.all(
      Array.from({ length: users }, (_, n) =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject(`user-${n}`)
          .setExpirationTime('1h')
          .sign(secret),
      ),
    );
    const probe = await fetch(`${base}/api/user-0/tasks`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${tokens[0]}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ title: 'read under load' }),
    });
    const probeUrl = `${base}/api/user-0/tasks/${((await probe.json()) as { id: string }).id}`;
    const withoutStreams = await getOneLatency(probeUrl, tokens[0]);
    await sleep(2000);
    const before = rssKiB(child.pid as number);
    const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
    const received = new Map<number, number>();
    const opened: Promise<void>[] = [];
    for (let n = 0; n < STREAMS; n++) {
      const user = n % users;
      opened.push(
        new Promise((done, fail) => {
          const req = request(
            `${base}/api/user-${user}/events`,
            { agent, headers: { Authorization: `Bearer ${tokens[user]}` } },
            (res) => {
              if (res.statusCode !== 200) fail(new Error(`stream ${n}: ${res.statusCode}`));
              res.on('data', () => received.set(n, (received.get(n) ?? 0) + 1));
              done();
            },
          );
          req.on('error', fail);
          req.end();
        }),
      );
      if (n % 50 === 49) await Promise.all(opened.slice(-50));
    }
    await Promise.all(opened);
    await sleep(5000);
    const after = rssKiB(child.pid as number);
    const perStream = ((after - before) * 1024) / STREAMS;
    console.log(
      JSON.stringify({
        streams: STREAMS,
        rssBeforeMiB: Math.round(before / 1024),
        rssAfterMiB: Math.round(after / 1024),
        perStreamKiB: Math.round(perStream / 102.4) / 10,
      }),
    );
    const withStreams = await getOneLatency(probeUrl, tokens[0]);
    console.log(
      JSON.stringify({
        getOne: { withoutStreams, withStreams },
        p50Ratio: Math.round((withStreams.p50 / withoutStreams.p50) * 100) / 100,
      }),
    );
    const write = await fetch(`${base}/api/user-0/tasks`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${tokens[0]}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ title: 'reaches the streams' }),
    });
    const counts = Array.from({ length: 10 }, (_, k) => received.get(k * users) ?? 0);
    await sleep(1000);
    const later = Array.from({ length: 10 }, (_, k) => received.get(k * users) ?? 0);
    console.log(
      JSON.stringify({
        create: write.status,
        user0StreamsThatGotIt: later.filter((count, k) => count > counts[k]).length,
      }),
    );
  } finally {
    child.kill('SIGKILL');
    await sleep(500);
    await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
