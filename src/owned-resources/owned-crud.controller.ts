import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  HttpStatus,
  Inject,
  Param,
  Post,
  Put,
  Query,
  Req,
  Res,
  type Type,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentUser } from '../auth/current-user.decorator';
import { ChangesQueryDto, type ChangesResponse, changesSince } from './changes-feed';
import { decodeCursor } from './cursor';
import { expectedVersion, withEntityTag } from './entity-tag';
import { IdempotencyKey, type IdempotentRequest } from './idempotency';
import { notFound, type OwnedEntity, type OwnedResource } from './owned-resource';
import { ownedResourceApi } from './owned-resource.openapi';
import type { OwnedRepository } from './owned.repository';
import {
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  type PageQuery,
  PageQueryDto,
  withNextLink,
} from './pagination';
import { resourceIdPipe } from './resource-id.pipe';
import { wireFormOf, wireNamesOf, wireResponseOf } from './wire-form';

/** An operation's one-line summary and its description. */
interface Described {
  summary: string;
  description: string;
}

type Route = 'list' | 'create' | 'changes' | 'findOne' | 'update' | 'remove';

/** The repository of any owned resource, as the shared routes call it. */
type AnyOwnedRepository<E, Sort extends string> = OwnedRepository<E, Sort, Partial<E>, Partial<E>>;

/** What the routes of an owned resource need to know beyond its declaration. */
export interface OwnedRoutes<
  E extends OwnedEntity,
  Sort extends string,
  Wire,
  Repository extends AnyOwnedRepository<E, Sort>,
> {
  resource: OwnedResource<E, Sort>;
  /** The feature's abstract repository: its DI token, and `this.repository` in the controller. */
  repository: abstract new (...args: never[]) => Repository;
  /** The bodies of `POST` and `PUT`, declared with the shared field decorators. */
  createBody: Type<object>;
  updateBody: Type<object>;
  /**
   * The query of `GET` on the collection, when the resource has `filters`: a class that extends
   * `PageQueryDto` and adds them under their wire names. Default: `PageQueryDto` of its sorts.
   */
  listQuery?: Type<PageQuery<Sort>>;
  /** How descriptions name several: "task lists". Default: the table's name. */
  plural?: string;
  /** The wire form and its mapping. Default: the entity's columns (wire-form.ts). */
  response?: Type<Wire>;
  toResponse?: (item: E) => Wire;
  /** The OpenAPI decorators, when the feature uses them too (default: made here). */
  api?: ReturnType<typeof ownedResourceApi>;
  /** A route's own summary or description, instead of the one made from the noun. */
  describe?: Partial<Record<Route, Partial<Described>>>;
}

/** The default sort of every collection: newest first. */
const NEWEST_FIRST = '-created_at';

/**
 * The REST routes every owned resource has, under `/api/:userId/<table>`: list (keyset pages,
 * `Link`, equality filters on the resource's `filters`), create (`Location`, `ETag`,
 * `Idempotency-Key`), the changes feed, get, update (`If-Match`) and delete. Every route is
 * private (the global guard binds `:userId` to the token's subject), the repository scopes every
 * statement to that owner, and each handler makes exactly one repository call.
 *
 * A feature's controller extends the class this returns, and adds its own routes (or replaces
 * one, decorators included):
 * `export class ListsController extends ownedCrudController({ … }) {}`.
 */
export function ownedCrudController<
  E extends OwnedEntity,
  Sort extends string,
  Repository extends AnyOwnedRepository<E, Sort>,
  Wire = object,
>(routes: OwnedRoutes<E, Sort, Wire, Repository>) {
  const { resource } = routes;
  const { noun, table } = resource;
  if (!resource.changesFeed || !resource.idempotentCreates) {
    // Its routes serve both, and say so in the document.
    throw new Error(`${table}: the shared routes need changesFeed and idempotentCreates`);
  }
  const plural = routes.plural ?? table;
  const response = routes.response ?? (wireResponseOf(resource.entity) as Type<Wire>);
  const toResponse = routes.toResponse ?? (wireFormOf(resource.entity) as (item: E) => Wire);
  const Api =
    routes.api ??
    ownedResourceApi({ tag: table, noun, plural, response, notFoundCode: resource.notFoundCode });
  const sorts = Object.keys(resource.sorts) as Sort[];
  const ListQuery =
    routes.listQuery ??
    PageQueryDto(sorts, (sorts.includes(NEWEST_FIRST as Sort) ? NEWEST_FIRST : sorts[0]) as Sort);
  const filters = wireNamesOf(resource.entity, resource.filters);
  const insertable = wireNamesOf(resource.entity, resource.insertable);
  const updatable = wireNamesOf(resource.entity, resource.updatable);
  const described = (route: Route, defaults: Described): Described => ({
    ...defaults,
    ...routes.describe?.[route],
  });
  const ID = resourceIdPipe(noun);
  const ifMatchVersion = (ifMatch: string | undefined) => expectedVersion(ifMatch, noun);
  const itemPath = (item: E) => `/api/${encodeURIComponent(item.userId)}/${table}/${item.id}`;

  @Api.Controller()
  @Controller(`api/:userId/${table}`)
  class OwnedCrudController {
    constructor(@Inject(routes.repository) readonly repository: Repository) {}

    @Get()
    @Api.List({
      ...described('list', {
        summary: `List the caller's ${plural}, a page at a time`,
        description: `Newest first unless \`sort\` says otherwise; \`limit\` (1 to ${MAX_PAGE_SIZE}, default ${DEFAULT_PAGE_SIZE}) per page, and a \`Link\` header to the next page while more follow.`,
      }),
      badQuery: `Bad ${[...filters.map(([, name]) => name), 'sort', 'limit', 'cursor'].join(', ')}`,
    })
    async list(
      @CurrentUser() userId: string,
      @Query() query: PageQuery<Sort>,
      @Req() request: FastifyRequest,
      @Res({ passthrough: true }) reply: FastifyReply,
    ): Promise<Wire[]> {
      const page = await this.repository.list(userId, {
        sort: query.sort,
        limit: query.limit,
        after:
          query.cursor === undefined ? undefined : decodeCursor(query.cursor, query.sort, resource),
        where: fromWire(query, filters),
      });
      return withNextLink(request, reply, page).map(toResponse);
    }

    @Post()
    @Api.Create(
      described('create', {
        summary: `Create a ${noun}`,
        description: `Answers 201 with the ${noun}, its URL in \`Location\` and its version in \`ETag\`.`,
      }),
    )
    async create(
      @CurrentUser() userId: string,
      @Body() body: object,
      @IdempotencyKey() idempotency: IdempotentRequest | undefined,
      @Res({ passthrough: true }) reply: FastifyReply,
    ): Promise<Wire> {
      const item = await this.repository.create(userId, fromWire(body, insertable), idempotency);
      reply.header('Location', itemPath(item));
      return withEntityTag(reply, item, toResponse);
    }

    @Get('changes')
    @Api.Changes(
      described('changes', {
        summary: `What changed in the caller's ${plural} since a sync token`,
        description: `Without \`since\`: every ${noun}. With it: every ${noun} created or changed since, with \`deleted: false\`, and every ${noun} deleted since, as \`{"id", "deleted": true}\`. Apply them in order and ask again with \`next\`; no change is skipped, one may come twice.`,
      }),
    )
    changes(
      @CurrentUser() userId: string,
      @Query() query: ChangesQueryDto,
      @Res({ passthrough: true }) reply: FastifyReply,
    ): Promise<ChangesResponse<Wire>> {
      return changesSince(this.repository, resource, userId, query, toResponse, reply);
    }

    @Get(':id')
    @Api.Get(
      described('findOne', {
        summary: `Get one ${noun}`,
        description: `404 when there is no such ${noun}, or it is another user's.`,
      }),
    )
    async findOne(
      @CurrentUser() userId: string,
      @Param('id', ID) id: string,
      @Res({ passthrough: true }) reply: FastifyReply,
    ): Promise<Wire> {
      const item = await this.repository.findOne(userId, id);
      if (!item) throw notFound(resource, id);
      return withEntityTag(reply, item, toResponse);
    }

    @Put(':id')
    @Api.Update(
      described('update', {
        summary: `Update a ${noun} partially`,
        description: `Absent fields keep their value; with \`If-Match\`, only if the ${noun} is still at that version (else 412).`,
      }),
    )
    async update(
      @CurrentUser() userId: string,
      @Param('id', ID) id: string,
      @Body() body: object,
      @Headers('if-match') ifMatch: string | undefined,
      @Res({ passthrough: true }) reply: FastifyReply,
    ): Promise<Wire> {
      const patch = fromWire(body, updatable);
      const item = await this.repository.update(userId, id, patch, ifMatchVersion(ifMatch));
      return withEntityTag(reply, item, toResponse);
    }

    @Delete(':id')
    @HttpCode(HttpStatus.NO_CONTENT)
    @Api.Delete(
      described('remove', {
        summary: `Delete a ${noun}`,
        description: `With \`If-Match\`, only if the ${noun} is still at that version (else 412).`,
      }),
    )
    async remove(
      @CurrentUser() userId: string,
      @Param('id', ID) id: string,
      @Headers('if-match') ifMatch: string | undefined,
    ): Promise<void> {
      await this.repository.remove(userId, id, ifMatchVersion(ifMatch));
    }
  }

  // The validation pipe and the OpenAPI document read a parameter's class from its declared
  // type, which a generic function cannot declare: each route says it here. An optional header
  // (`If-Match`) is an Object, as TypeScript declares `string | undefined`: a String would make
  // the document call it required.
  const parameterTypes: Record<Route, unknown[]> = {
    list: [String, ListQuery, Object, Object],
    create: [String, routes.createBody, Object, Object],
    changes: [String, ChangesQueryDto, Object],
    findOne: [String, String, Object],
    update: [String, String, routes.updateBody, Object, Object],
    remove: [String, String, Object],
  };
  for (const [route, types] of Object.entries(parameterTypes)) {
    Reflect.defineMetadata('design:paramtypes', types, OwnedCrudController.prototype, route);
  }
  return OwnedCrudController;
}

/** The input of the repository: each wire field (`list_id`) under its property (`listId`). */
function fromWire<E>(body: object, fields: [keyof E & string, string][]): Partial<E> {
  const input: Partial<E> = {};
  for (const [property, name] of fields) {
    const value = (body as Record<string, unknown>)[name];
    if (value !== undefined) input[property] = value as E[keyof E & string];
  }
  return input;
}
