import { type AddressInfo, connect } from 'node:net';
import { startTestApp, TestApp } from '../support/test-app';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends bytes as they are (no client library would send them) and reads the whole answer. */
function sendRaw(port: number, bytes: string | Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head, ...rest] = text.split('\r\n\r\n');
      const [statusLine, ...headerLines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
    socket.write(bytes);
    // Half-close where the request is complete, so that a server waiting for more sees the end.
    setTimeout(() => socket.end(), 200);
  });
}

const expectRawProblem = (response: RawResponse, status: number): void => {
  expect(response.status).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(response.body);
  expect(body).toMatchObject({ type: 'about:blank', status, code: 'BAD_REQUEST' });
  expect(body.request_id).toMatch(/^[0-9a-f-]{36}$/);
  expect(response.headers['x-request-id']).toBe(body.request_id);
  expect(response.headers['x-content-type-options']).toBe('nosniff');
  expect(body.detail).toMatch(/\S.*\.$/);
  expect(response.body).not.toMatch(/HPE_|statusCode/);
};

// specification §12: what Node's HTTP parser refuses is answered as problem details too.
describe('requests refused below the framework', () => {
  let testApp: TestApp;
  let port: number;

  beforeAll(async () => {
    testApp = await startTestApp();
    await testApp.app.listen(0, '127.0.0.1');
    port = (testApp.app.getHttpServer().address() as AddressInfo).port;
  });
  afterAll(() => testApp.close());

  it('a malformed Content-Length → 400', async () => {
    const response = await sendRaw(
      port,
      'POST /api/u/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n{}',
    );
    expectRawProblem(response, 400);
  });

  it('two different Content-Length headers → 400', async () => {
    const response = await sendRaw(
      port,
      'POST /api/u/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
    );
    expectRawProblem(response, 400);
  });

  it('a method that is not HTTP → 400', async () => {
    const response = await sendRaw(port, 'BREW /health HTTP/1.1\r\nHost: x\r\n\r\n');
    expectRawProblem(response, 400);
    expect(JSON.parse(response.body).instance).toBe('/health');
  });

  it('a malformed header line → 400', async () => {
    const response = await sendRaw(
      port,
      'GET /health HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n',
    );
    expectRawProblem(response, 400);
  });

  it('headers over 16 KiB → 431', async () => {
    const response = await sendRaw(
      port,
      `GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`,
    );
    expectRawProblem(response, 431);
  });

  it('an HTTP/1.1 request without Host → 400 problem details with the request id', async () => {
    const response = await sendRaw(port, 'GET /health/live HTTP/1.1\r\nConnection: close\r\n\r\n');
    expectRawProblem(response, 400);
    expect(JSON.parse(response.body).detail).toMatch(/Host/);
  });

  it('an HTTP/1.0 request without Host is served', async () => {
    const response = await sendRaw(port, 'GET /health/live HTTP/1.0\r\n\r\n');
    expect(response.status).toBe(200);
  });
});
