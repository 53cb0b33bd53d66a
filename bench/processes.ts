import { ChildProcess, fork, spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import type { DriverReply, DriverRequest, LoadSample, Scenario } from './scenarios';

export const WORK_DIR = resolve('bench/.work');

export { freePort } from '../src/database/embedded-postgres';

const newestMtime = (path: string): number => {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce(
    (newest, entry) => Math.max(newest, newestMtime(join(path, entry))),
    stat.mtimeMs,
  );
};

/** Builds the service (`npm run build`) when dist/ is missing or older than its sources. */
export function ensureBuilt(log: (line: string) => void): void {
  const entry = resolve('dist/src/main.js');
  const sources = Math.max(
    ...[
      'src',
      'migrations',
      'ormconfig.ts',
      'tsconfig.json',
      'tsconfig.build.json',
      'package-lock.json',
    ].map(newestMtime),
  );
  if (existsSync(entry) && statSync(entry).mtimeMs >= sources) {
    log('dist/ is up to date');
    return;
  }
  log('building the service (npm run build)…');
  const started = performance.now();
  const build = spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
  if (build.status !== 0 || !existsSync(entry)) throw new Error('npm run build failed');
  log(`built in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** The conventional peer's sources (bench/peer), relative to bench/. */
const peerFiles = (): string[] =>
  readdirSync(resolve('bench/peer'), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => join('peer', file));

/**
 * Transpiles the benchmark's own child-process entry points (floor, peer, driver) to plain
 * JavaScript under bench/.work/js, so that those processes carry no TypeScript compiler. The
 * peer's decorators need their metadata, as `nest build` emits it.
 */
export function compileChildren(): string {
  const outDir = join(WORK_DIR, 'js');
  for (const file of [
    'floor.ts',
    'floor-organising.ts',
    'floor-events.ts',
    'driver.ts',
    'tokens.ts',
    'scenarios.ts',
    ...peerFiles(),
  ]) {
    const source = readFileSync(resolve('bench', file), 'utf8');
    const output = ts.transpileModule(source, {
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2023,
        esModuleInterop: true,
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
      },
      fileName: file,
    });
    const target = join(outDir, file.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, output.outputText);
  }
  return outDir;
}

/**
 * Resident memory of a process: the kernel's own peak (VmHWM in /proc) where there is one, else
 * the largest `ps` sample seen (every 250 ms). `readyMb` is what it held once it answered.
 */
export class MemorySampler {
  private peakKb = 0;
  private readonly timer: NodeJS.Timeout;
  readonly readyMb: number;

  constructor(private readonly pid: number) {
    this.timer = setInterval(() => this.sample(), 250);
    this.timer.unref();
    this.readyMb = this.sample() / 1024;
  }

  /** Samples now; returns the current resident size in kB. */
  sample(): number {
    const status = `/proc/${this.pid}/status`;
    if (existsSync(status)) {
      const text = readFileSync(status, 'utf8');
      const peak = Number(/VmHWM:\s+(\d+) kB/.exec(text)?.[1] ?? 0);
      const current = Number(/VmRSS:\s+(\d+) kB/.exec(text)?.[1] ?? 0);
      this.peakKb = Math.max(this.peakKb, peak, current);
      return current;
    }
    const ps = spawnSync('ps', ['-o', 'rss=', '-p', String(this.pid)], { encoding: 'utf8' });
    const rss = Number(ps.stdout.trim()) || 0;
    this.peakKb = Math.max(this.peakKb, rss);
    return rss;
  }

  peakMb(): number {
    this.sample();
    return this.peakKb / 1024;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/**
 * CPU time (user + system) a process has used so far, in milliseconds, from /proc/<pid>/stat;
 * NaN where there is no /proc. Clock ticks are 100 per second on Linux.
 */
export function cpuTimeMs(pid: number): number {
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return Number.NaN;
  // The command name (field 2) may contain spaces: count fields after its closing parenthesis.
  const fields = readFileSync(stat, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** CPU time (user + system) of every PostgreSQL process on the machine, in ms. */
export function postgresCpuMs(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(') ');
      if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue;
      const fields = stat.slice(close + 2).split(' ');
      total += ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return total;
}

/** Busy CPU time of the whole machine (every core, all but idle and I/O wait), in ms. */
export function machineBusyMs(): number {
  const [, ...times] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = times.map(Number);
  return ((user + nice + system + irq + softirq + steal) * 1000) / 100;
}

export interface ServerProcess {
  name: string;
  url: string;
  pid: number;
  memory: MemorySampler;
  logFile: string;
  stop(): Promise<void>;
}

export interface ServerOptions {
  name: string;
  command: string[];
  env: Record<string, string>;
  port: number;
}

const tail = (file: string): string =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-15).join('\n') : '';

/** Starts a server with its output in bench/.work/logs and waits until it answers. */
export async function startServer(options: ServerOptions): Promise<ServerProcess> {
  mkdirSync(join(WORK_DIR, 'logs'), { recursive: true });
  const logFile = join(WORK_DIR, 'logs', `${options.name}.log`);
  const fd = openSync(logFile, 'w');
  const child: ChildProcess = spawn(process.execPath, options.command, {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  let exited = false;
  const exit = new Promise<void>((done) =>
    child.once('exit', () => {
      exited = true;
      done();
    }),
  );
  const url = `http://127.0.0.1:${options.port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) {
      throw new Error(
        `${options.name} exited during start-up; ${relative('.', logFile)}:\n${tail(logFile)}`,
      );
    }
    const ready = await fetch(`${url}/health/live`)
      .then((response) => response.ok)
      .catch(() => false);
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${options.name} did not answer within 60 s:\n${tail(logFile)}`);
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  const pid = child.pid as number;
  const memory = new MemorySampler(pid);
  return {
    name: options.name,
    url,
    pid,
    memory,
    logFile,
    stop: async () => {
      memory.stop();
      if (exited) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(killer);
    },
  };
}

/** The load driver child process (bench/driver.ts), one scenario at a time over IPC. */
export class Driver {
  private nextId = 1;
  private readonly pending = new Map<number, (reply: DriverReply) => void>();
  private readonly child: ChildProcess;

  constructor(jsDir: string) {
    this.child = fork(join(jsDir, 'driver.js'), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // Structured clone: latencies travel as a Float64Array, not as JSON.
      serialization: 'advanced',
    });
    this.child.on('message', (reply: DriverReply) => {
      this.pending.get(reply.id)?.(reply);
      this.pending.delete(reply.id);
    });
  }

  run(scenario: Scenario): Promise<LoadSample> {
    const id = this.nextId++;
    return new Promise((resolveRun, reject) => {
      this.pending.set(id, (reply) =>
        reply.sample ? resolveRun(reply.sample) : reject(new Error(reply.error)),
      );
      this.child.send({ id, scenario } satisfies DriverRequest);
    });
  }

  close(): void {
    this.child.send({ id: 0, exit: true } satisfies DriverRequest);
  }
}
