import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startTestApp, type TestApp } from '../support/test-app';
import { bearer, signToken } from '../support/tokens';

const ROOT = resolve(__dirname, '../..');

const freePort = (): Promise<number> =>
  new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolvePort(port));
    });
    probe.on('error', reject);
  });

interface Exchange {
  method: string;
  path: string;
  status: number;
  headers: Headers;
  text: string;
}

// A third party's reading of the OpenAPI document: Stoplight Prism as a validating proxy in front
// of the service, which answers an error of its own (instead of the service's answer) for any
// request or response that the document does not describe. The scenario exercises every route.
describe('the service behind a validating proxy (Prism)', () => {
  let testApp: TestApp;
  let prism: ChildProcess;
  let base: string;
  let directory: string;
  const prismLog: string[] = [];
  const exchanges: Exchange[] = [];

  beforeAll(async () => {
    testApp = await startTestApp();
    await testApp.app.listen(0, '127.0.0.1');
    const { port } = testApp.app.getHttpServer().address() as { port: number };
    const upstream = `http://127.0.0.1:${port}`;
    directory = mkdtempSync(join(tmpdir(), 'prism-'));
    const document = join(directory, 'openapi.json');
    const served = (await (await fetch(`${upstream}/docs/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, { headers?: object }> }>>;
    };
    // A control: one response the document gets wrong on purpose (a header the service never
    // sends, marked required), to show that Prism does check the responses.
    const control = served.paths['/health/live'].get.responses['200'];
    control.headers = {
      ...control.headers,
      'X-Never-Sent': { required: true, schema: { type: 'string' } },
    };
    writeFileSync(document, JSON.stringify(served));

    const prismPort = await freePort();
    prism = spawn(
      process.execPath,
      [
        resolve(ROOT, 'node_modules/@stoplight/prism-cli/dist/index.js'),
        'proxy',
        document,
        upstream,
        '--errors',
        '--cors=false',
        '--port',
        String(prismPort),
        '--host',
        '127.0.0.1',
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const listening = new Promise<void>((resolveStart, reject) => {
      const onData = (chunk: Buffer) => {
        const text = chunk.toString();
        prismLog.push(text);
        if (/Prism is listening/.test(text)) resolveStart();
      };
      prism.stdout?.on('data', onData);
      prism.stderr?.on('data', onData);
      prism.on('exit', (code) => reject(new Error(`prism exited ${code}: ${prismLog.join('')}`)));
    });
    await listening;
    base = `http://127.0.0.1:${prismPort}`;
  }, 120_000);

  afterAll(async () => {
    prism?.kill('SIGTERM');
    await testApp?.close();
    rmSync(directory, { recursive: true, force: true });
  });

  const send = async (
    method: string,
    path: string,
    { body, headers = {} }: { body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Exchange> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const exchange = {
      method,
      path,
      status: response.status,
      headers: response.headers,
      text: await response.text(),
    };
    exchanges.push(exchange);
    return exchange;
  };

  it('passes a scenario of every route with no request or response violation', async () => {
    const user = 'prism-user';
    const auth = bearer(await signToken(user));
    const api = `/api/${user}`;
    const json = (exchange: Exchange) => JSON.parse(exchange.text) as Record<string, unknown>;

    await send('GET', '/health');
    await send('GET', '/health/ready');
    await send('GET', '/metrics');

    const list = json(
      await send('POST', `${api}/lists`, { body: { name: 'Home' }, headers: auth }),
    );
    await send('GET', `${api}/lists`, { headers: auth });
    await send('GET', `${api}/lists?sort=name&limit=1`, { headers: auth });
    await send('GET', `${api}/lists/${list.id}`, { headers: auth });
    await send('PUT', `${api}/lists/${list.id}`, {
      body: { name: 'House' },
      headers: { ...auth, 'If-Match': '"1"' },
    });
    await send('GET', `${api}/lists/changes`, { headers: auth });

    const created = await send('POST', `${api}/tasks`, {
      body: { title: 'Buy milk', description: 'two litres', list_id: list.id },
      headers: { ...auth, 'Idempotency-Key': 'prism-1' },
    });
    const task = json(created);
    await send('POST', `${api}/tasks`, {
      body: { title: 'Buy milk', description: 'two litres', list_id: list.id },
      headers: { ...auth, 'Idempotency-Key': 'prism-1' },
    });
    const second = json(
      await send('POST', `${api}/tasks`, { body: { title: 'Call mum' }, headers: auth }),
    );
    const first = await send('GET', `${api}/tasks?limit=1`, { headers: auth });
    const next = /^<([^>]+)>; rel="next"$/.exec(first.headers.get('link') ?? '')?.[1];
    expect(next).toBeDefined();
    await send('GET', next as string, { headers: auth });
    await send('GET', `${api}/tasks?completed=false&sort=title&list_id=${list.id}`, {
      headers: auth,
    });
    const one = await send('GET', `${api}/tasks/${task.id}`, { headers: auth });
    await send('GET', `${api}/tasks/${task.id}`, {
      headers: { ...auth, 'If-None-Match': one.headers.get('etag') ?? '' },
    });
    await send('PUT', `${api}/tasks/${task.id}`, {
      body: { title: 'Buy oat milk', description: null },
      headers: { ...auth, 'If-Match': '"1"' },
    });
    await send('PUT', `${api}/tasks/${task.id}`, {
      body: { completed: true },
      headers: { ...auth, 'If-Match': '"1"' },
    });
    await send('PATCH', `${api}/tasks/${second.id}/complete`, { headers: auth });
    await send('PATCH', `${api}/tasks`, {
      body: { ids: [task.id, second.id], completed: false },
      headers: auth,
    });
    const changes = json(await send('GET', `${api}/tasks/changes?limit=1`, { headers: auth }));
    await send('GET', `${api}/tasks/changes?since=${changes.next as string}`, { headers: auth });
    await send('DELETE', `${api}/tasks/${task.id}`, { headers: auth });
    await send('GET', `${api}/tasks?trashed=true`, { headers: auth });
    await send('GET', `${api}/tasks/${task.id}`, { headers: auth });
    await send('POST', `${api}/tasks/${task.id}/restore`, { headers: auth });
    await send('PATCH', `${api}/tasks/${second.id}/complete`, { headers: auth });
    await send('DELETE', `${api}/tasks?completed=true`, { headers: auth });
    await send('DELETE', `${api}/lists/${list.id}`, { headers: { ...auth, 'If-Match': '"2"' } });
    await send('GET', `${api}/lists/${list.id}`, { headers: auth });

    // The controls: a response and a request that the document does not describe are caught.
    const wrongResponse = await send('GET', '/health/live');
    const wrongRequest = await send('POST', `${api}/tasks`, { body: { title: 5 }, headers: auth });
    for (const control of [wrongResponse, wrongRequest]) {
      expect(control.text).toContain('stoplight.io/prism/errors');
      exchanges.pop();
    }

    const refusedByPrism = exchanges.filter(
      (exchange) =>
        exchange.headers.get('sl-violations') !== null ||
        exchange.text.includes('stoplight.io/prism/errors'),
    );
    const summary = exchanges.map((e) => `${e.method} ${e.path.slice(0, 80)} → ${e.status}`);
    process.stdout.write(
      `prism figures: ${exchanges.length} exchanges through the validating proxy, ${refusedByPrism.length} with a violation\n${summary.join('\n')}\n`,
    );
    expect(
      refusedByPrism.map((e) => `${e.method} ${e.path} → ${e.status}: ${e.text.slice(0, 2000)}`),
    ).toEqual([]);
    // Prism answered nothing itself: every status is the service's.
    expect(exchanges.filter((e) => e.status >= 500)).toEqual([]);
  }, 120_000);
});
