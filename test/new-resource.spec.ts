import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { TEST_ADMIN_URL_VAR } from './support/test-database';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '..');
const MINUTES = 60_000;
// Notes, unless the project already has them (`npm run new:resource -- notes` run before the
// tests, as a newcomer trying the generator does): then memos.
const [PLURAL, SINGULAR, CLASS] = existsSync(join(ROOT, 'src/notes'))
  ? ['memos', 'memo', 'Memos']
  : ['notes', 'note', 'Notes'];

interface JestReport {
  numFailedTests: number;
  testResults: { assertionResults: { fullName: string; status: string }[] }[];
}

// `npm run new:resource -- notes` on a copy of the repository: what it writes is a working owned
// resource, with no hand edit (docs/extending.md).
describe('npm run new:resource', () => {
  let scratch: string;
  const inScratch = (command: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
    run(command, args, {
      cwd: scratch,
      env: { ...process.env, ...env },
      maxBuffer: 64 * 1024 * 1024,
    });

  beforeAll(async () => {
    // The project's files as they are on disk (tracked, and new ones git does not ignore), and
    // the installed packages by a link.
    scratch = mkdtempSync(join(tmpdir(), 'new-resource-'));
    const { stdout } = await run(
      'git',
      ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
      {
        cwd: ROOT,
        maxBuffer: 16 << 20,
      },
    );
    for (const file of stdout.split('\0').filter(Boolean)) {
      mkdirSync(dirname(join(scratch, file)), { recursive: true });
      cpSync(join(ROOT, file), join(scratch, file));
    }
    symlinkSync(join(ROOT, 'node_modules'), join(scratch, 'node_modules'), 'dir');
    const git = ['-c', 'user.name=test', '-c', 'user.email=test@example.com'];
    await inScratch('git', ['init', '-q']);
    await inScratch('git', ['add', '-A']);
    await inScratch('git', [...git, 'commit', '-qm', 'before']);
    // docs/sql/<name>.sql is left to `npm run sql:update`, as its own test (statements-sql) says.
    await inScratch('npm', ['run', '-s', 'new:resource', '--', PLURAL, '--no-sql']);
  }, 5 * MINUTES);
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('writes the feature folder and the migration, and registers them in two files', async () => {
    const { stdout } = await inScratch('git', ['status', '--porcelain', '--untracked-files=all']);
    const changed = stdout.split('\n').filter(Boolean).sort();
    expect(changed).toEqual([
      ' M migrations/index.ts',
      ' M src/resources.ts',
      expect.stringMatching(new RegExp(`^\\?\\? migrations/\\d{13}-create-${PLURAL}\\.ts$`)),
      `?? src/${PLURAL}/dto/create-${SINGULAR}.dto.ts`,
      `?? src/${PLURAL}/dto/update-${SINGULAR}.dto.ts`,
      `?? src/${PLURAL}/${SINGULAR}.entity.ts`,
      `?? src/${PLURAL}/${PLURAL}.controller.ts`,
      `?? src/${PLURAL}/${PLURAL}.module.ts`,
      `?? src/${PLURAL}/${PLURAL}.repository.ts`,
      `?? src/${PLURAL}/${PLURAL}.resource.ts`,
    ]);
    // Timestamped now, and last: it runs after every migration already there.
    const migration = changed[2].slice(3);
    const timestamp = Number(/(\d{13})/.exec(migration)?.[1]);
    expect(Math.abs(timestamp - Date.now())).toBeLessThan(10 * MINUTES);
    const index = readFileSync(join(scratch, 'migrations/index.ts'), 'utf8');
    expect(index.trim()).toMatch(new RegExp(`Create${CLASS}${timestamp},\\n\\];$`));
  });

  it(
    'builds, and its files pass lint and Prettier as written',
    async () => {
      await inScratch('npm', ['run', '-s', 'build']);
      const files = [`src/${PLURAL}`, 'src/resources.ts', 'migrations'];
      await inScratch('npx', ['eslint', ...files]);
      await inScratch('npx', ['prettier', '--check', ...files]);
    },
    5 * MINUTES,
  );

  it(
    'passes the shared suite: 401 without a token, 404 for another user, 201 and 200 for the owner',
    async () => {
      const report = join(scratch, 'jest-report.json');
      await inScratch(
        'npx',
        [
          'jest',
          'test/owned-resources.spec.ts',
          '--testNamePattern',
          `owned resource: ${PLURAL}`,
          '--json',
          `--outputFile=${report}`,
        ],
        { TEST_DATABASE_URL: process.env[TEST_ADMIN_URL_VAR] },
      );
      const { numFailedTests, testResults } = JSON.parse(
        readFileSync(report, 'utf8'),
      ) as JestReport;
      const passed = testResults
        .flatMap((file) => file.assertionResults)
        .filter((test) => test.status === 'passed')
        .map((test) => test.fullName);
      expect(numFailedTests).toBe(0);
      expect(passed).toEqual(
        expect.arrayContaining([
          `owned resource: ${PLURAL} problem details 401, 400 INVALID_UUID, 400 VALIDATION_ERROR and 404 are problem details`,
          `owned resource: ${PLURAL} ownership GET: another user's row under their own path is 404, and unchanged`,
          `owned resource: ${PLURAL} one round trip per request every route is one statement on success, scoped by owner, with no transaction`,
        ]),
      );
      expect(passed.every((name) => name.startsWith(`owned resource: ${PLURAL}`))).toBe(true);
    },
    8 * MINUTES,
  );
});
