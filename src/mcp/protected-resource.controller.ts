import { Controller, Get, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Public } from '../auth/public.decorator';
import { AppConfig } from '../config/app-config';

export const PROTECTED_RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource';

/** OAuth 2.0 Protected Resource Metadata (RFC 9728 §2), as this service serves it. */
export class ProtectedResourceMetadata {
  @ApiProperty({ description: "The resource's identifier: this service's origin." })
  resource!: string;

  @ApiProperty({
    type: [String],
    required: false,
    description: 'The issuer of the tokens this service accepts (AUTH_JWT_ISSUER), when set.',
  })
  authorization_servers?: string[];

  @ApiProperty({ type: [String], enum: ['header'] })
  bearer_methods_supported!: string[];

  @ApiProperty()
  resource_name!: string;

  @ApiProperty({ description: 'Where people read about the API.' })
  resource_documentation!: string;
}

/** The origin a client reached this service at: what it calls the resource. */
export const originOf = (request: FastifyRequest): string =>
  `${request.protocol}://${request.host}`;

/**
 * Where an MCP client that got a 401 learns which identity provider issues the tokens
 * (specification §16, RFC 9728). Public: it is read before the client has a token.
 */
@Public()
@ApiTags('agents')
@Controller(PROTECTED_RESOURCE_METADATA_PATH.slice(1))
export class ProtectedResourceController {
  constructor(private readonly config: AppConfig) {}

  @Get()
  @ApiOperation({
    summary: 'OAuth 2.0 protected resource metadata (RFC 9728)',
    description:
      'Names the issuer of the bearer tokens that /api and /mcp accept; the WWW-Authenticate header of a 401 from /mcp points here.',
  })
  @ApiOkResponse({ type: ProtectedResourceMetadata })
  metadata(@Req() request: FastifyRequest): ProtectedResourceMetadata {
    const origin = originOf(request);
    const { issuer } = this.config.auth;
    return {
      resource: origin,
      ...(issuer === null ? {} : { authorization_servers: [issuer] }),
      bearer_methods_supported: ['header'],
      resource_name: 'Tasks service',
      resource_documentation: `${origin}/docs`,
    };
  }
}
