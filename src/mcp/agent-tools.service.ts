import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService, HttpAdapterHost } from '@nestjs/core';
import type { OpenAPIObject } from '@nestjs/swagger';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type { JsonSchemaValidator } from '@modelcontextprotocol/sdk/validation';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { OPENAPI_JSON_PATH } from '../http/openapi';
import type { ProblemDetails } from '../http/problem-details.filter';
import { REQUEST_ID_HEADER } from '../http/request-id';
import type { OwnedEntity } from '../owned-resources/owned-resource';
import { TypeOrmOwnedRepository } from '../owned-resources/owned.repository';
import {
  type AgentToolDefinition,
  type ApiRequest,
  agentToolsOf,
  type ToolSource,
} from './agent-tools';

/** Who an MCP request acts for: the token's subject, and the request's own headers to pass on. */
export interface Caller {
  userId: string;
  authorization: string;
  requestId: string;
}

interface Tool {
  definition: AgentToolDefinition;
  checkTextArguments: JsonSchemaValidator<unknown>;
}

const INSTRUCTIONS =
  'Tools act on the tasks and task lists of the user the bearer token names; no tool takes a user id. A failed call answers a tool error whose text is JSON: {code, detail, errors?}, with the codes of the REST API (TASK_NOT_FOUND, VALIDATION_ERROR, …). Pass idempotency_key to add_* calls you may retry.';

/**
 * The MCP server of specification §16, stateless: `serverFor` makes one per HTTP request. Its
 * tools are the REST operations that owned resources declare in `agentTools`, described by the
 * service's own OpenAPI document, and each call is that REST request, made in-process through
 * Fastify's `inject` with the caller's own token: the route's guard, rate limit, validation,
 * owner scoping, idempotency and error codes apply to a tool call exactly as to the API.
 */
@Injectable()
export class AgentToolsService implements OnApplicationBootstrap {
  private resources: ToolSource[] = [];
  private tools?: Promise<{ info: OpenAPIObject['info']; byName: Map<string, Tool> }>;
  private readonly validators = new AjvJsonSchemaValidator();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  /** Every owned resource the application serves: the one each repository is built on. */
  onApplicationBootstrap(): void {
    const byTable = new Map<string, ToolSource>();
    for (const wrapper of this.discovery.getProviders()) {
      const instance: unknown = wrapper.instance;
      if (instance instanceof TypeOrmOwnedRepository) {
        const { resource } = instance as TypeOrmOwnedRepository<OwnedEntity, string, never, never>;
        byTable.set(resource.table, resource);
      }
    }
    this.resources = [...byTable.values()];
  }

  /** A new MCP server for one HTTP request of `caller`. */
  async serverFor(caller: Caller): Promise<Server> {
    const { info, byName } = await this.loadTools();
    const server = new Server(
      { name: 'tasks-service', title: info.title, version: info.version },
      { capabilities: { tools: { listChanged: false } }, instructions: INSTRUCTIONS },
    );
    server.setRequestHandler(ListToolsRequestSchema, () => ({
      tools: [...byName.values()].map(({ definition }) => ({
        name: definition.name,
        title: definition.title,
        description: definition.description,
        inputSchema: definition.inputSchema,
        outputSchema: definition.outputSchema,
        annotations: definition.annotations,
      })),
    }));
    server.setRequestHandler(CallToolRequestSchema, ({ params }) => {
      const tool = byName.get(params.name);
      if (!tool) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${params.name}`);
      return this.call(tool, params.arguments ?? {}, caller);
    });
    return server;
  }

  /**
   * The tools, from the OpenAPI document the service serves (read once, in-process, when the
   * first MCP request comes: building it at start-up would slow every start).
   */
  private loadTools(): Promise<{ info: OpenAPIObject['info']; byName: Map<string, Tool> }> {
    this.tools ??= this.fastify()
      .inject({ method: 'GET', url: `/${OPENAPI_JSON_PATH}` })
      .then((response) => {
        const document = response.json<OpenAPIObject>();
        const byName = new Map(
          agentToolsOf(this.resources, document).map((definition): [string, Tool] => [
            definition.name,
            {
              definition,
              checkTextArguments: this.validators.getValidator(definition.textArguments),
            },
          ]),
        );
        return { info: document.info, byName };
      });
    return this.tools;
  }

  private async call(
    { definition, checkTextArguments }: Tool,
    args: Record<string, unknown>,
    caller: Caller,
  ): Promise<CallToolResult> {
    const checked = checkTextArguments(args);
    if (!checked.valid) {
      // Ajv's text names the arguments object `data`: "data/limit must be <= 1000".
      const message = (checked.errorMessage ?? 'data must match the input schema').replace(
        /\bdata\//g,
        '',
      );
      return toolError({
        code: 'VALIDATION_ERROR',
        detail: `The arguments are invalid: ${message}.`,
        errors: [{ field: 'arguments', message }],
      });
    }
    const response = await this.fastify().inject(injected(definition.toRequest(args), caller));
    const body: unknown = response.body === '' ? null : response.json();
    if (response.statusCode >= 400) return toolError(body as ProblemDetails);
    const { structured, text } = definition.toOutcome(
      { body, nextCursor: nextCursorOf(response.headers.link) },
      args,
    );
    return { structuredContent: structured, content: [{ type: 'text', text }] };
  }

  private fastify(): FastifyInstance {
    return this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
  }
}

/** The REST request of a tool call, as the caller would send it, with the caller's token. */
function injected(request: ApiRequest, caller: Caller): InjectOptions {
  const query = request.query?.toString();
  return {
    method: request.method,
    url: `/api/${encodeURIComponent(caller.userId)}/${request.path}${query ? `?${query}` : ''}`,
    headers: {
      ...request.headers,
      authorization: caller.authorization,
      // The MCP request's id: its log line and those of its tool calls share it.
      [REQUEST_ID_HEADER]: caller.requestId,
      ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    payload: request.body === undefined ? undefined : JSON.stringify(request.body),
  };
}

/** A failed call: a tool error (not a protocol error) whose text is the problem's JSON. */
function toolError(problem: Pick<ProblemDetails, 'code' | 'detail' | 'errors'>): CallToolResult {
  const { code, detail, errors } = problem;
  return {
    isError: true,
    content: [
      { type: 'text', text: JSON.stringify({ code, detail, ...(errors ? { errors } : {}) }) },
    ],
  };
}

const NEXT_LINK = /<([^>]*)>\s*;\s*rel="next"/;

/** The `cursor` of a `Link: <…?cursor=…>; rel="next"` header. */
function nextCursorOf(link: string | string[] | undefined): string | null {
  const target = NEXT_LINK.exec([link ?? []].flat().join(', '))?.[1];
  return target === undefined
    ? null
    : new URL(target, 'http://localhost').searchParams.get('cursor');
}
