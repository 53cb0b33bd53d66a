import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { type AppProcess, spawnServingApp } from './support/app-process';
import { createTestDatabase, type TestDatabase } from './support/test-database';
import { signToken } from './support/tokens';

/**
 * The live-events demo page (/demo) in headless Chromium, with the browser's own EventSource and
 * the Content-Security-Policy the service sends: a task added in one tab appears in the other,
 * which is connected to another replica. Needs Debian's `chromium` (.ci/run installs it). Without
 * it the file is skipped with a notice, as the PgBouncer tests are; CHROMIUM_REQUIRED=1 (set by
 * .ci/run) makes a missing browser a failure instead.
 */
const CHROMIUM = '/usr/bin/chromium';
const required = process.env.CHROMIUM_REQUIRED === '1';
const installed = existsSync(CHROMIUM);
if (!installed && !required) {
  console.warn(
    `NOTICE: ${CHROMIUM} is not installed, so the demo page's browser test is SKIPPED. ` +
      'Install it (Debian: apt-get install chromium; .ci/run does) to run it.',
  );
}
const describeWithChromium = installed || required ? describe : describe.skip;
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describeWithChromium('the live-events demo page in a browser', () => {
  let database: TestDatabase;
  let apps: AppProcess[];
  let urls: string[];
  let browser: Browser;

  beforeAll(async () => {
    database = await createTestDatabase();
    apps = [spawnServingApp(database.url), spawnServingApp(database.url)];
    const lines = await Promise.all(
      apps.map((app) => app.waitForLine(/tasks service listening/, 150_000)),
    );
    urls = lines.map((line) => (JSON.parse(line) as { url: string }).url);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    for (const app of apps) app.child.kill('SIGKILL');
    await Promise.all(apps.map((app) => app.exit));
    await database.drop();
  });

  it('shows a task added in one tab in the other, through EventSource and a ticket', async () => {
    const token = await signToken('demo-user');
    const tabs = await Promise.all(urls.map(() => browser.newPage()));
    const refused: string[] = [];
    for (const [index, tab] of tabs.entries()) {
      tab.on('console', (message) => {
        // The browser's own request for /favicon.ico is the one 404 expected.
        if (message.type() === 'error' && !message.text().includes('404')) {
          refused.push(message.text());
        }
      });
      tab.on('response', (response) => {
        if (response.status() >= 400 && !response.url().endsWith('/favicon.ico')) {
          refused.push(`${response.status()} ${response.url()}`);
        }
      });
      await tab.goto(`${urls[index]}/demo`);
      await tab.fill('#user', 'demo-user');
      await tab.fill('#token', token);
      await tab.click('#connect button');
      await tab.waitForSelector('#status[data-state="open"]', { timeout: 15_000 });
    }

    await tabs[0].fill('#title', 'Seen in the other tab');
    await tabs[0].click('#add button');
    await tabs[1].waitForSelector('#tasks li:has-text("Seen in the other tab")', {
      timeout: 5000,
    });
    await tabs[0].waitForSelector('#tasks li:has-text("Seen in the other tab")', {
      timeout: 5000,
    });

    // Completing it in the second tab crosses out the first tab's copy.
    await tabs[1].click('#tasks li:has-text("Seen in the other tab") input[type=checkbox]');
    await tabs[0].waitForSelector('#tasks li:has-text("Seen in the other tab") span.done', {
      timeout: 5000,
    });
    // No script or connection was blocked (by the Content-Security-Policy, for example).
    expect(refused).toEqual([]);
  }, 60_000);
});
