import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnApp } from './support/app-process';
import { TEST_ADMIN_URL_VAR, withDatabase } from './support/test-database';

const ROOT = resolve(__dirname, '..');
const DATABASE_IN_USE =
  /^the embedded PostgreSQL in \S+ is in use by process \d+ .*set DATABASE_URL/;

/** Runs a command to its end; what it wrote, split into lines, and its exit code. */
async function run(
  command: string,
  args: string[],
  options: { cwd: string; env: Record<string, string> },
): Promise<{ code: number | null; stdout: string[]; stderr: string[] }> {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH ?? ''}`, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out.stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out.stderr += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  const lines = (text: string): string[] => text.split('\n').filter((line) => line !== '');
  return { code, stdout: lines(out.stdout), stderr: lines(out.stderr) };
}

/**
 * A checkout whose embedded database (`.data/development`) a live process serves: the pid files
 * PostgreSQL and the service write, naming this test's own process, which is alive.
 */
async function checkoutInUse(): Promise<string> {
  const checkout = await mkdtemp(join(tmpdir(), 'tasks-in-use-'));
  await chmod(checkout, 0o755);
  for (const entry of ['src', 'migrations', 'scripts', 'node_modules', 'ormconfig.ts', '.swcrc']) {
    await symlink(join(ROOT, entry), join(checkout, entry));
  }
  const dataDir = join(checkout, '.data/development');
  await mkdir(dataDir, { recursive: true });
  // postmaster.pid: pid, data directory, start time, port, ...
  await writeFile(join(dataDir, 'postmaster.pid'), `${process.pid}\n${dataDir}\n0\n54321\n`);
  await writeFile(join(dataDir, 'tasks-owner.pid'), `${process.pid}\n`);
  return checkout;
}

// One data directory has one owner. A second `npm start` is refused in one line, before its
// compile step replaces the running instance's dist/, and the service started any other way
// refuses in one line too, before Nest logs anything.
describe('a second start on a data directory that a live process serves', () => {
  let checkout: string;
  beforeAll(async () => {
    checkout = await checkoutInUse();
  });
  afterAll(() => rm(checkout, { recursive: true, force: true }));

  it("npm start's compile step refuses in one line and leaves dist/ alone", async () => {
    await mkdir(join(checkout, 'dist/src'), { recursive: true });
    await writeFile(join(checkout, 'dist/src/main.js'), '// the running instance\n');

    const refused = await run('bash', [join(ROOT, 'scripts/compile-for-start.sh')], {
      cwd: checkout,
      env: {},
    });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toEqual([]);
    expect(refused.stderr).toEqual([expect.stringMatching(DATABASE_IN_USE)]);
    expect(refused.stderr[0]).toContain(`process ${process.pid}`);
    expect(await readFile(join(checkout, 'dist/src/main.js'), 'utf8')).toBe(
      '// the running instance\n',
    );
    expect(existsSync(join(checkout, 'dist.next'))).toBe(false);

    // With DATABASE_URL the embedded database is not used: it compiles and replaces dist/.
    const elsewhere = await run('bash', [join(ROOT, 'scripts/compile-for-start.sh')], {
      cwd: checkout,
      env: { DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/tasks' },
    });
    expect(elsewhere).toMatchObject({ code: 0, stderr: [] });
    expect(readFileSync(join(checkout, 'dist/src/main.js'), 'utf8')).toMatch(/bootstrap/);
    expect(existsSync(join(checkout, 'dist.next'))).toBe(false);
  }, 120_000);

  it('the service refuses in one line, with no stack trace and no Nest start-up lines', async () => {
    const app = spawnApp({ NODE_ENV: 'development', PORT: '0', HOST: '127.0.0.1' }, checkout);
    const { code } = await app.exit;
    expect(code).toBe(1);
    expect(app.lines).toEqual([expect.stringContaining('"level":"fatal"')]);
    expect(JSON.parse(app.lines[0]).msg).toMatch(DATABASE_IN_USE);
  }, 60_000);
});

// A DATABASE_URL naming a database the server does not have: waiting will not create it.
describe('a database that does not exist', () => {
  const missing = (): string =>
    withDatabase(process.env[TEST_ADMIN_URL_VAR] as string, `missing_${process.pid}`);
  const remedy = new RegExp(
    `^database "missing_${process.pid}" does not exist on [\\w.]+:\\d+: create it, for example with ` +
      `psql .* -c 'CREATE DATABASE "missing_${process.pid}"'`,
  );

  it('stops the service at once, in one line that says how to create it', async () => {
    const app = spawnApp({
      NODE_ENV: 'test',
      PORT: '0',
      DATABASE_URL: missing(),
      AUTH_JWT_SECRET: 'a-test-secret-of-at-least-32-characters',
    });
    const { code } = await app.exit;
    expect(code).toBe(1);
    expect(app.lines).toEqual([expect.stringContaining('"level":"fatal"')]);
    expect(JSON.parse(app.lines[0]).msg).toMatch(remedy);
  }, 60_000);

  it('is one line from the migration CLI too', async () => {
    const show = await run('typeorm-ts-node-commonjs', ['-d', 'ormconfig.ts', 'migration:show'], {
      cwd: ROOT,
      env: { NODE_ENV: 'test', DATABASE_URL: missing() },
    });
    expect(show.code).toBe(1);
    expect(show.stderr).toEqual([expect.stringMatching(remedy)]);
    expect(show.stdout).toEqual([]);
  }, 60_000);
});
