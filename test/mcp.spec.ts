import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { OpenAPIObject } from '@nestjs/swagger';
import { Client } from 'pg';
import request from 'supertest';
import { LISTS } from '../src/lists/lists.resource';
import { agentToolsOf } from '../src/mcp/agent-tools';
import type { AgentTool } from '../src/owned-resources/owned-resource';
import { givenList, givenTask, rowSnapshot } from './support/fixtures';
import { expectProblem } from './support/problem';
import { StatementRecorder } from './support/statement-recorder';
import { startTestApp, type TestApp } from './support/test-app';
import { signToken } from './support/tokens';

const ISSUER = 'https://issuer.example.test/';
const MISSING = '0b5f0f36-9c3b-4f0b-9f3e-2f7d9a1c4e21';
const TOOLS = [
  'add_task',
  'list_tasks',
  'update_task',
  'complete_task',
  'delete_task',
  'restore_task',
  'add_list',
  'list_lists',
];
const ACCEPT = 'application/json, text/event-stream';

/** The problem a failed tool call carries in its text. */
interface ToolProblem {
  code: string;
  detail: string;
  errors?: { field: string; message: string }[];
}

// `Client.callTool` is typed to also answer the results of older protocol versions.
const problemOf = (answer: unknown): ToolProblem => {
  const result = answer as CallToolResult;
  expect(result.isError).toBe(true);
  expect(result.structuredContent).toBeUndefined();
  const [content] = result.content;
  if (content?.type !== 'text') throw new Error('a tool error carries a text');
  return JSON.parse(content.text) as ToolProblem;
};

const structured = <T = Record<string, unknown>>(answer: unknown): T => {
  const result = answer as CallToolResult;
  expect(result.isError).toBeFalsy();
  expect(result.content[0]).toMatchObject({ type: 'text', text: expect.stringMatching(/\S/) });
  return result.structuredContent as T;
};

const toolCall = (id: number, name: string, args: object) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

// specification §16: the service as an MCP server, reached with the official SDK client and the
// MCP Inspector's CLI, over a real listening socket and a real PostgreSQL.
describe('MCP server (/mcp)', () => {
  let testApp: TestApp;
  let db: Client;
  let url: string;
  let aliceToken: string;
  let bobToken: string;
  const clients: McpClient[] = [];
  const recorder = new StatementRecorder();

  /** An SDK client connected as `token`'s subject. */
  const connect = async (token: string): Promise<McpClient> => {
    const client = new McpClient({ name: 'tasks-service-tests', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
      }),
    );
    clients.push(client);
    return client;
  };
  const countTasks = async (owner: string): Promise<number> =>
    (await db.query('SELECT count(*)::int AS n FROM tasks WHERE user_id = $1', [owner])).rows[0].n;

  beforeAll(async () => {
    // Before the app connects: its connections bind `query` when they are made.
    recorder.start();
    testApp = await startTestApp({ AUTH_JWT_ISSUER: ISSUER });
    await testApp.app.listen(0, '127.0.0.1');
    url = (await testApp.app.getUrl()).replace('[::1]', '127.0.0.1');
    db = new Client({ connectionString: testApp.database.url });
    await db.connect();
    aliceToken = await signToken('alice', { issuer: ISSUER });
    bobToken = await signToken('bob', { issuer: ISSUER });
  });
  afterAll(async () => {
    recorder.stop();
    await Promise.all(clients.map((client) => client.close()));
    await db.end();
    await testApp.close();
  });

  describe('with the SDK client', () => {
    let alice: McpClient;
    beforeAll(async () => {
      alice = await connect(aliceToken);
    });

    it('lists the tools, each with input and output schemas and none with a user id', async () => {
      const { tools } = await alice.listTools();
      expect(tools.map((tool) => tool.name)).toEqual(TOOLS);
      for (const tool of tools) {
        expect(tool.inputSchema.type).toBe('object');
        expect(tool.outputSchema?.type).toBe('object');
        expect(tool.description).toMatch(/\S/);
        expect(JSON.stringify([tool.inputSchema, tool.outputSchema])).not.toMatch(/user_?id/i);
      }
      const addTask = tools.find((tool) => tool.name === 'add_task');
      // The rules of the REST body, from the same DTO: a title of 1 to 255 characters, not blank.
      expect(addTask?.inputSchema).toMatchObject({
        required: ['title'],
        additionalProperties: false,
        properties: {
          title: { type: 'string', minLength: 1, maxLength: 255, pattern: expect.any(String) },
          description: { type: ['string', 'null'], maxLength: 10_000 },
          completed: { type: 'boolean' },
          list_id: { type: ['string', 'null'], format: 'uuid' },
          idempotency_key: { type: 'string', maxLength: 255 },
        },
      });
      const listTasks = tools.find((tool) => tool.name === 'list_tasks');
      expect(listTasks?.inputSchema.properties).toMatchObject({
        status: { enum: ['all', 'pending', 'completed'] },
        list_id: { format: 'uuid' },
        sort: { enum: expect.arrayContaining(['-created_at', 'title']) },
        limit: { type: 'integer', minimum: 1, maximum: 1000 },
        trashed: { type: 'boolean' },
      });
      expect(listTasks?.inputSchema.properties).not.toHaveProperty('completed');
      expect(listTasks?.annotations).toMatchObject({ readOnlyHint: true });
      expect(tools.find((tool) => tool.name === 'delete_task')?.annotations).toMatchObject({
        readOnlyHint: false,
        destructiveHint: true,
      });
    });

    it('calls every tool, with structured results the output schemas describe', async () => {
      const list = structured<{ id: string; name: string }>(
        await alice.callTool({ name: 'add_list', arguments: { name: ' Groceries ' } }),
      );
      expect(list).toMatchObject({ name: 'Groceries' });
      expect(structured(await alice.callTool({ name: 'list_lists', arguments: {} }))).toEqual({
        lists: [list],
        next_cursor: null,
      });

      const task = structured<{ id: string }>(
        await alice.callTool({
          name: 'add_task',
          arguments: { title: 'Buy milk', description: '2 litres', list_id: list.id },
        }),
      );
      expect(task).toMatchObject({
        title: 'Buy milk',
        description: '2 litres',
        completed: false,
        list_id: list.id,
      });
      expect(task).not.toHaveProperty('user_id');
      const other = structured<{ id: string }>(
        await alice.callTool({ name: 'add_task', arguments: { title: 'Call Bob' } }),
      );

      const updated = structured(
        await alice.callTool({
          name: 'update_task',
          arguments: { id: task.id, title: 'Buy oat milk', description: null },
        }),
      );
      expect(updated).toMatchObject({ id: task.id, title: 'Buy oat milk', description: null });
      const completed = await alice.callTool({ name: 'complete_task', arguments: { id: task.id } });
      expect(structured(completed)).toMatchObject({ id: task.id, completed: true });
      // Completing is setting, not toggling: a retried call leaves the task done.
      expect(
        structured(await alice.callTool({ name: 'complete_task', arguments: { id: task.id } })),
      ).toMatchObject({ completed: true });

      const ids = async (args: Record<string, unknown>): Promise<string[]> =>
        structured<{ tasks: { id: string }[] }>(
          await alice.callTool({ name: 'list_tasks', arguments: args }),
        ).tasks.map((listed) => listed.id);
      expect(await ids({})).toEqual([other.id, task.id]);
      expect(await ids({ status: 'completed' })).toEqual([task.id]);
      expect(await ids({ status: 'pending' })).toEqual([other.id]);
      expect(await ids({ list_id: list.id, sort: 'title' })).toEqual([task.id]);
      const firstPage = structured<{ tasks: unknown[]; next_cursor: string }>(
        await alice.callTool({ name: 'list_tasks', arguments: { limit: 1 } }),
      );
      expect(firstPage.tasks).toHaveLength(1);
      expect(await ids({ limit: 1, cursor: firstPage.next_cursor })).toEqual([task.id]);

      expect(
        structured(await alice.callTool({ name: 'delete_task', arguments: { id: task.id } })),
      ).toEqual({ id: task.id, deleted: true });
      expect(await ids({})).toEqual([other.id]);
      expect(await ids({ trashed: true })).toEqual([task.id]);
      expect(
        structured(await alice.callTool({ name: 'restore_task', arguments: { id: task.id } })),
      ).toMatchObject({ id: task.id, title: 'Buy oat milk' });
      expect(await ids({})).toEqual([other.id, task.id]);
    });

    it('makes one database round trip per tool call', async () => {
      const task = await givenTask(db, 'alice');
      const calls: [string, Record<string, unknown>][] = [
        ['add_task', { title: 'counted' }],
        ['add_task', { title: 'counted', idempotency_key: 'round-trip' }],
        ['list_tasks', { status: 'pending', limit: 2 }],
        ['update_task', { id: task.id, title: 'renamed' }],
        ['complete_task', { id: task.id }],
        ['delete_task', { id: task.id }],
        ['restore_task', { id: task.id }],
        ['add_list', { name: 'counted' }],
        ['list_lists', {}],
      ];
      await alice.listTools();
      for (const [name, args] of calls) {
        recorder.take();
        structured(await alice.callTool({ name, arguments: args }));
        expect({ name, statements: recorder.take().length }).toEqual({ name, statements: 1 });
      }
    });

    it('answers a blank title, a bad limit or an unknown argument with VALIDATION_ERROR', async () => {
      const before = await countTasks('alice');
      const blank = problemOf(
        await alice.callTool({ name: 'add_task', arguments: { title: '  ' } }),
      );
      expect(blank).toMatchObject({
        code: 'VALIDATION_ERROR',
        errors: [{ field: 'title', message: 'title must not be blank' }],
      });
      const task = await givenTask(db, 'alice', { title: 'kept' });
      const snapshot = await rowSnapshot(db, 'tasks', task.id);
      expect(
        problemOf(
          await alice.callTool({ name: 'update_task', arguments: { id: task.id, title: '' } }),
        ).code,
      ).toBe('VALIDATION_ERROR');
      expect(
        problemOf(await alice.callTool({ name: 'update_task', arguments: { id: task.id } })).code,
      ).toBe('VALIDATION_ERROR');
      expect(
        problemOf(
          await alice.callTool({ name: 'add_task', arguments: { title: 'x', user_id: 'bob' } }),
        ),
      ).toMatchObject({ code: 'VALIDATION_ERROR', errors: [{ field: 'user_id' }] });
      expect(
        problemOf(await alice.callTool({ name: 'list_tasks', arguments: { limit: 0 } })).code,
      ).toBe('VALIDATION_ERROR');
      expect(
        problemOf(await alice.callTool({ name: 'list_tasks', arguments: { limit: '5' } })).code,
      ).toBe('VALIDATION_ERROR');
      expect(
        problemOf(await alice.callTool({ name: 'list_tasks', arguments: { status: 'done' } })).code,
      ).toBe('VALIDATION_ERROR');
      expect(
        problemOf(await alice.callTool({ name: 'complete_task', arguments: { id: task.id, x: 1 } }))
          .code,
      ).toBe('VALIDATION_ERROR');
      expect(
        problemOf(await alice.callTool({ name: 'complete_task', arguments: { id: 'nope' } })),
      ).toMatchObject({
        code: 'VALIDATION_ERROR',
        detail: expect.stringMatching(/id must match format "uuid"/),
      });
      expect(await countTasks('alice')).toBe(before + 1);
      expect(await rowSnapshot(db, 'tasks', task.id)).toBe(snapshot);
    });

    it('creates one task for a retried add_task with one idempotency_key', async () => {
      const before = await countTasks('alice');
      const args = { title: 'Pay rent', idempotency_key: 'rent-2026-12' };
      const first = structured<{ id: string }>(
        await alice.callTool({ name: 'add_task', arguments: args }),
      );
      const retried = await Promise.all(
        [1, 2, 3].map(() => alice.callTool({ name: 'add_task', arguments: args })),
      );
      for (const result of retried) expect(structured(result)).toEqual(first);
      expect(await countTasks('alice')).toBe(before + 1);
      expect(
        problemOf(
          await alice.callTool({
            name: 'add_task',
            arguments: { ...args, title: 'Pay the rent' },
          }),
        ).code,
      ).toBe('IDEMPOTENCY_KEY_REUSED');
      // The key is the caller's: bob's call with it creates bob's own task.
      const bob = await connect(bobToken);
      expect(structured(await bob.callTool({ name: 'add_task', arguments: args }))).not.toEqual(
        first,
      );
      expect(await countTasks('alice')).toBe(before + 1);
    });

    it("answers another user's task through any tool with TASK_NOT_FOUND, and changes nothing", async () => {
      const bob = await connect(bobToken);
      const list = await givenList(db, 'alice');
      const task = await givenTask(db, 'alice', { list_id: list.id });
      const trashed = await givenTask(db, 'alice');
      await db.query('UPDATE tasks SET deleted_at = now() WHERE id = $1', [trashed.id]);
      const snapshots = async () =>
        Promise.all([task.id, trashed.id].map((id) => rowSnapshot(db, 'tasks', id)));
      const before = await snapshots();
      const aliceTasks = await countTasks('alice');

      for (const [name, args] of [
        ['update_task', { id: task.id, title: 'mine now' }],
        ['complete_task', { id: task.id }],
        ['delete_task', { id: task.id }],
        ['restore_task', { id: trashed.id }],
        ['update_task', { id: MISSING, title: 'x' }],
      ] as const) {
        expect({ name, ...problemOf(await bob.callTool({ name, arguments: args })) }).toMatchObject(
          { name, code: 'TASK_NOT_FOUND' },
        );
      }
      const listed = structured<{ tasks: unknown[] }>(
        await bob.callTool({ name: 'list_tasks', arguments: { list_id: list.id } }),
      );
      expect(listed.tasks).toEqual([]);
      expect(
        problemOf(
          await bob.callTool({ name: 'add_task', arguments: { title: 'x', list_id: list.id } }),
        ),
      ).toMatchObject({ code: 'VALIDATION_ERROR', errors: [{ field: 'list_id' }] });
      expect(await snapshots()).toEqual(before);
      expect(await countTasks('alice')).toBe(aliceTasks);
    });
  });

  describe('over plain HTTP', () => {
    const post = (token: string | null, body: unknown) => {
      const call = request(url).post('/mcp').set('Accept', ACCEPT);
      return token === null
        ? call.send(body as object)
        : call.set('Authorization', `Bearer ${token}`).send(body as object);
    };

    it('refuses a request without a valid token with 401 and the resource metadata', async () => {
      for (const token of [null, 'not-a-token', await signToken('alice')]) {
        const response = await post(token, toolCall(1, 'list_tasks', {}));
        expect(response.status).toBe(401);
        expect(response.headers['www-authenticate']).toMatch(
          new RegExp(
            `^Bearer .*resource_metadata="${url}/\\.well-known/oauth-protected-resource"$`,
          ),
        );
      }
      const metadata = await request(url).get('/.well-known/oauth-protected-resource').expect(200);
      expect(metadata.body).toEqual({
        resource: url,
        authorization_servers: [ISSUER],
        bearer_methods_supported: ['header'],
        resource_name: 'Tasks service',
        resource_documentation: `${url}/docs`,
      });
    });

    it('checks validation and ownership on every call of a JSON-RPC batch', async () => {
      const task = await givenTask(db, 'alice');
      const before = await rowSnapshot(db, 'tasks', task.id);
      const bobTasks = await countTasks('bob');
      const response = await post(bobToken, [
        toolCall(1, 'complete_task', { id: task.id }),
        toolCall(2, 'add_task', { title: ' ' }),
        toolCall(3, 'delete_task', { id: task.id }),
      ]).expect(200);
      const byId = new Map(
        (response.body as { id: number; result: CallToolResult }[]).map((answer) => [
          answer.id,
          problemOf(answer.result).code,
        ]),
      );
      expect(Object.fromEntries(byId)).toEqual({
        1: 'TASK_NOT_FOUND',
        2: 'VALIDATION_ERROR',
        3: 'TASK_NOT_FOUND',
      });
      expect(await rowSnapshot(db, 'tasks', task.id)).toBe(before);
      expect(await countTasks('bob')).toBe(bobTasks);
    });

    it('answers an unknown tool with a JSON-RPC error', async () => {
      const response = await post(aliceToken, toolCall(7, 'drop_tables', {})).expect(200);
      expect(response.body).toMatchObject({
        id: 7,
        error: { message: expect.stringMatching(/drop_tables/) },
      });
    });

    it('refuses a body over 64 KiB, a GET and a wrong Accept with problem details', async () => {
      expectProblem(
        await post(
          aliceToken,
          toolCall(1, 'add_task', { title: 'x', description: 'y'.repeat(70_000) }),
        ),
        413,
        'PAYLOAD_TOO_LARGE',
      );
      expectProblem(
        await request(url).get('/mcp').set('Authorization', `Bearer ${aliceToken}`),
        405,
        'METHOD_NOT_ALLOWED',
      );
      const wrongAccept = await request(url)
        .post('/mcp')
        .set('Authorization', `Bearer ${aliceToken}`)
        .set('Accept', 'text/html')
        .send(toolCall(1, 'list_lists', {}));
      expectProblem(wrongAccept, 406, 'BAD_REQUEST');
    });
  });

  it('refuses a declared tool whose REST operation the API lacks, naming it', async () => {
    const document = (await request(url).get('/docs/openapi.json').expect(200))
      .body as OpenAPIObject;
    const lists = (agentTools: AgentTool[]) => [{ ...LISTS, agentTools }];
    expect(agentToolsOf(lists(['add', 'list']), document).map((tool) => tool.name)).toEqual([
      'add_list',
      'list_lists',
    ]);
    expect(() => agentToolsOf(lists(['restore']), document)).toThrow(
      'lists declares an agent tool for POST /api/{userId}/lists/{id}/restore, which the API does not serve',
    );
    expect(() => agentToolsOf(lists(['complete']), document)).toThrow(/boolean completed/);
  });

  describe('with the MCP Inspector CLI', () => {
    // What `npm run mcp:inspect` runs (docs/agents.md): the CLI, from its own folder.
    const cli = dirname(require.resolve('@modelcontextprotocol/inspector-cli/package.json'));
    const inspect = async (method: string, ...args: string[]): Promise<unknown> => {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [
          'index.js',
          `${url}/mcp`,
          '--transport',
          'http',
          '--header',
          `Authorization: Bearer ${aliceToken}`,
          '--method',
          method,
          ...args,
        ],
        // About a second of CPU each: minutes only on a machine loaded far past its cores.
        { cwd: join(cli, 'build'), timeout: 240_000 },
      );
      return JSON.parse(stdout);
    };
    const call = async (name: string, args: Record<string, string>) =>
      (await inspect(
        'tools/call',
        '--tool-name',
        name,
        ...Object.entries(args).flatMap(([key, value]) => ['--tool-arg', `${key}=${value}`]),
      )) as CallToolResult;

    it('connects with a token, lists the tools and calls each', async () => {
      const list = await givenList(db, 'alice', { name: 'Inspected' });
      const [updated, completed, deleted, restored] = [
        await givenTask(db, 'alice', { list_id: list.id }),
        await givenTask(db, 'alice', { list_id: list.id }),
        await givenTask(db, 'alice', { list_id: list.id }),
        await givenTask(db, 'alice', { list_id: list.id }),
      ];
      await db.query('UPDATE tasks SET deleted_at = now() WHERE id = $1', [restored.id]);
      // Independent calls, one process each, at once.
      const [listed, ...results] = await Promise.all([
        inspect('tools/list'),
        call('add_list', { name: 'From the Inspector' }),
        call('list_lists', {}),
        call('add_task', { title: 'From the Inspector', list_id: list.id, idempotency_key: 'cli' }),
        call('update_task', { id: updated.id, title: 'Inspected' }),
        call('complete_task', { id: completed.id }),
        call('list_tasks', { status: 'pending', list_id: list.id, sort: 'created_at' }),
        call('delete_task', { id: deleted.id }),
        call('restore_task', { id: restored.id }),
      ]);
      expect((listed as { tools: { name: string }[] }).tools.map((tool) => tool.name)).toEqual(
        TOOLS,
      );
      const [addedList, lists, addedTask, update, complete, tasks, trash, restore] = results.map(
        (result) => structured(result),
      );
      expect(addedList).toMatchObject({ name: 'From the Inspector' });
      expect(lists.lists).toEqual(
        expect.arrayContaining([expect.objectContaining({ id: list.id })]),
      );
      expect(addedTask).toMatchObject({ title: 'From the Inspector', list_id: list.id });
      expect(update).toMatchObject({ id: updated.id, title: 'Inspected' });
      expect(complete).toMatchObject({ id: completed.id, completed: true });
      expect(tasks.tasks).toEqual(
        expect.arrayContaining([expect.objectContaining({ id: updated.id })]),
      );
      expect(trash).toEqual({ id: deleted.id, deleted: true });
      expect(restore).toMatchObject({ id: restored.id });
    }, 300_000);
  });
});

describe('MCP server (/mcp) with a rate limit and browser origins', () => {
  const origin = 'http://agent.example.test';
  let testApp: TestApp;

  beforeAll(async () => {
    testApp = await startTestApp({ RATE_LIMIT_PER_MINUTE: '4', CORS_ORIGINS: origin });
  });
  afterAll(() => testApp.close());

  it('lets a listed origin send the MCP headers', async () => {
    const preflight = await request(testApp.app.getHttpServer())
      .options('/mcp')
      .set('Origin', origin)
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization, content-type, mcp-protocol-version')
      .expect(204);
    expect(preflight.headers['access-control-allow-headers'].toLowerCase()).toMatch(
      /mcp-protocol-version/,
    );
  });

  // The API's rate limit holds for agents: the MCP request counts, and so does each tool call
  // in it, as the API request it is; a batch of calls cannot spend more than the allowance.
  it('counts every tool call of a batch, then refuses the MCP request itself with 429', async () => {
    const token = await signToken('carol');
    const post = (body: unknown) =>
      request(testApp.app.getHttpServer())
        .post('/mcp')
        .set('Accept', ACCEPT)
        .set('Authorization', `Bearer ${token}`)
        .send(body as object);
    const batch = await post([1, 2, 3, 4, 5].map((id) => toolCall(id, 'list_lists', {}))).expect(
      200,
    );
    const results = (batch.body as { result: CallToolResult }[]).map((answer) => answer.result);
    const refused = results.filter((result) => result.isError).map((result) => problemOf(result));
    // One of the four for the MCP request, three for tool calls.
    expect(results.filter((result) => !result.isError)).toHaveLength(3);
    expect(refused.map((problem) => problem.code)).toEqual([
      'TOO_MANY_REQUESTS',
      'TOO_MANY_REQUESTS',
    ]);
    expectProblem(await post(toolCall(6, 'list_lists', {})), 429, 'TOO_MANY_REQUESTS');
  });
});
