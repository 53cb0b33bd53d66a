import { Controller, HttpException, Post, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentUser } from '../auth/current-user.decorator';
import { ApiProblemResponse } from '../http/problem-details.dto';
import { AgentToolsService } from './agent-tools.service';

export const MCP_PATH = '/mcp';

const JSON_RPC = {
  description: 'A JSON-RPC 2.0 message, or a batch (an array) of them (Model Context Protocol).',
  oneOf: [{ type: 'object' }, { type: 'array', items: { type: 'object' }, maxItems: 100 }],
};

/**
 * The MCP endpoint (specification §16): the Streamable HTTP transport of the official SDK, in
 * its stateless mode (a new server and transport per request, JSON answers, no session, no
 * stream), so any replica serves any request. The global guards run first: the rate limit, then
 * the bearer token, whose subject is the user every tool acts for. The body is read by the
 * service's own JSON parser, with the API's 64 KiB limit. GET (a server-sent stream) and DELETE
 * (a session's end) have nothing to serve without sessions: 405.
 */
@ApiTags('agents')
@ApiBearerAuth()
@Controller(MCP_PATH.slice(1))
export class McpController {
  constructor(private readonly tools: AgentToolsService) {}

  @Post()
  @ApiOperation({
    summary: 'Model Context Protocol: the tools of the signed-in user',
    description:
      'Streamable HTTP transport, stateless, JSON answers. Send `Accept: application/json, text/event-stream`. Tools: add_task, list_tasks, update_task, complete_task, delete_task, restore_task, add_list, list_lists; a failed call is a tool error carrying the code of this API. See docs/agents.md.',
  })
  @ApiBody({ schema: JSON_RPC })
  @ApiOkResponse({
    description: 'The JSON-RPC response (or a batch of them) to the request(s) of the body',
    schema: JSON_RPC,
  })
  @ApiResponse({ status: 202, description: 'Only notifications or responses were sent: no body' })
  @ApiProblemResponse(
    401,
    ['MISSING_TOKEN', 'INVALID_TOKEN', 'TOKEN_EXPIRED'],
    'No valid bearer token; WWW-Authenticate names the protected-resource metadata (RFC 9728)',
  )
  @ApiProblemResponse(
    406,
    ['BAD_REQUEST'],
    'The Accept header lacks application/json or text/event-stream',
  )
  @ApiProblemResponse(400, ['BAD_REQUEST', 'INVALID_JSON'], 'Not a JSON-RPC message')
  @ApiProblemResponse(
    429,
    ['TOO_MANY_REQUESTS'],
    'Over the rate limit (every tool call also counts as an API request)',
  )
  @ApiProblemResponse(500, ['INTERNAL_ERROR'], 'Unexpected error')
  async handle(
    @CurrentUser() userId: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const server = await this.tools.serverFor({
      userId,
      authorization: request.headers.authorization ?? '',
      requestId: request.id,
    });
    const transport = new WebStandardStreamableHTTPServerTransport({ enableJsonResponse: true });
    await server.connect(transport);
    try {
      // The body is already parsed (and refused if it was no JSON, too deep or too large).
      const response = await transport.handleRequest(webRequest(request), {
        parsedBody: request.body ?? null,
      });
      const text = await response.text();
      if (response.status >= 400)
        throw new HttpException(jsonRpcErrorMessage(text), response.status);
      reply.status(response.status).header('Cache-Control', 'no-store');
      const contentType = response.headers.get('content-type');
      if (contentType) reply.header('Content-Type', contentType);
      await reply.send(text === '' ? undefined : text);
    } finally {
      await server.close();
    }
  }
}

/** The request as the SDK's web-standard transport reads it: method, URL and headers. */
function webRequest(request: FastifyRequest): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    for (const each of [value ?? []].flat()) headers.append(name, each);
  }
  return new Request(`${request.protocol}://${request.host}${request.url}`, {
    method: request.method,
    headers,
  });
}

/** The transport refuses with a JSON-RPC error: its message becomes the problem's detail. */
function jsonRpcErrorMessage(text: string): string {
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof message === 'string') return message;
  } catch {
    // Not JSON: the status says enough.
  }
  return 'The MCP request was refused';
}
