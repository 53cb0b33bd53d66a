import { Module, type OnModuleInit } from '@nestjs/common';
import { DiscoveryModule, HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { AgentToolsService } from './agent-tools.service';
import { MCP_PATH, McpController } from './mcp.controller';
import {
  originOf,
  PROTECTED_RESOURCE_METADATA_PATH,
  ProtectedResourceController,
} from './protected-resource.controller';

/** The service as an MCP server for agents (specification §16; docs/agents.md). */
@Module({
  imports: [DiscoveryModule],
  controllers: [McpController, ProtectedResourceController],
  providers: [AgentToolsService],
})
export class McpModule implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  /**
   * A 401 from /mcp also names the protected-resource metadata (RFC 9728 §5.1), where an MCP
   * client finds the issuer to get a token from. The exception filter has written the Bearer
   * challenge; the parameter is added to it as the response leaves.
   */
  onModuleInit(): void {
    this.adapterHost.httpAdapter
      .getInstance<FastifyInstance>()
      .addHook('onSend', (request, reply, payload, done) => {
        const challenge = reply.getHeader('WWW-Authenticate');
        if (
          reply.statusCode === 401 &&
          request.routeOptions.url === MCP_PATH &&
          typeof challenge === 'string'
        ) {
          const metadata = `${originOf(request)}${PROTECTED_RESOURCE_METADATA_PATH}`;
          reply.header('WWW-Authenticate', `${challenge}, resource_metadata="${metadata}"`);
        }
        done(null, payload);
      });
  }
}
