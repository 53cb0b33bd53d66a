import type {
  OpenAPIObject,
  OperationObject,
  ParameterObject,
  ReferenceObject,
  SchemaObject,
} from '@nestjs/swagger';
import type { AgentTool, OwnedEntity, OwnedResource } from '../owned-resources/owned-resource';
import { type JsonSchema, type ObjectSchema, toJsonSchema, toObjectSchema } from './json-schema';

/** A request of the REST API, below `/api/<the caller>/`. */
export interface ApiRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Below `/api/<the caller>/`, already encoded: `tasks/<id>/restore`. */
  path: string;
  query?: URLSearchParams;
  body?: Record<string, unknown>;
  headers?: Record<string, string>;
}

/** A successful answer of the REST API. */
export interface ApiAnswer {
  body: unknown;
  /** The `cursor` of the `Link: rel="next"` header, when more items follow. */
  nextCursor: string | null;
}

export interface ToolOutcome {
  structured: Record<string, unknown>;
  /** A short sentence for the agent (MCP clients show it; the structured content is exact). */
  text: string;
}

/**
 * An MCP tool: one operation of the REST API, described by the API's own OpenAPI document. The
 * REST route validates the arguments, scopes them to the token's subject, applies idempotency
 * and answers the error codes, so a tool can do nothing its route would refuse.
 */
export interface AgentToolDefinition {
  name: string;
  title: string;
  description: string;
  inputSchema: ObjectSchema;
  outputSchema: ObjectSchema;
  /** Hints for clients (which calls to confirm with the user, which to retry). */
  annotations: ToolAnnotations;
  /**
   * The arguments that reach the route as text (a query parameter, a path segment, a header),
   * where their JSON types would be lost: checked against this schema before the request. The
   * fields of a body are the route's to check (`additionalProperties: true` here).
   */
  textArguments: ObjectSchema;
  toRequest(args: Record<string, unknown>): ApiRequest;
  toOutcome(answer: ApiAnswer, args: Record<string, unknown>): ToolOutcome;
}

/** MCP's tool annotations; every tool here acts on the service's own data only. */
export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: false;
}

const hints = (
  readOnly: boolean,
  { destructive = false, idempotent = false } = {},
): ToolAnnotations => ({
  readOnlyHint: readOnly,
  destructiveHint: destructive,
  idempotentHint: readOnly || idempotent,
  openWorldHint: false,
});

/** What the tools of a resource are made from, beside its API's OpenAPI description. */
export type ToolSource = Pick<
  OwnedResource<OwnedEntity, string>,
  'table' | 'noun' | 'agentTools' | 'changesFeed'
>;
type Operations = Record<'get' | 'post' | 'put' | 'delete', OperationObject | undefined>;

/** The tools of every resource that declares `agentTools`, in declaration order. */
export function agentToolsOf(
  resources: readonly ToolSource[],
  document: OpenAPIObject,
): AgentToolDefinition[] {
  return resources.flatMap((resource) =>
    (resource.agentTools ?? []).map((kind) => BUILDERS[kind](new ResourceApi(resource, document))),
  );
}

const IDEMPOTENCY_KEY = 'idempotency_key';
/**
 * The owner's id, on the wire of every owned resource. Tools leave it out of what they answer:
 * it is always the token's subject, and no tool argument or result names a user.
 */
const OWNER = 'user_id';
/** The lineage's `status` argument stands for a boolean `completed` filter. */
const STATUSES = { all: undefined, pending: 'false', completed: 'true' } as const;

const BUILDERS: Record<AgentTool, (api: ResourceApi) => AgentToolDefinition> = {
  add: (api) => {
    const operation = api.operation('', 'post');
    const body = api.requestBody(operation);
    const keyHeader = api.parameter(operation, 'header', 'Idempotency-Key');
    const key: Record<string, JsonSchema> = keyHeader
      ? {
          [IDEMPOTENCY_KEY]: {
            ...api.schemaOf(keyHeader),
            description: `Makes the call safe to retry: the same key with the same arguments answers the first ${api.noun} again and adds nothing. Use a new key for each new ${api.noun}.`,
          },
        }
      : {};
    return {
      name: `add_${api.noun}`,
      title: operation.summary ?? `Add a ${api.noun}`,
      description: `Adds a ${api.noun} for the signed-in user and answers it.`,
      annotations: hints(false),
      inputSchema: { ...body, properties: { ...body.properties, ...key } },
      outputSchema: api.responseBody(operation, '201'),
      textArguments: { ...objectSchema(key), additionalProperties: true },
      toRequest: (args) => {
        const { [IDEMPOTENCY_KEY]: idempotencyKey, ...fields } = args;
        return {
          method: 'POST',
          path: api.collectionPath,
          body: fields,
          headers:
            typeof idempotencyKey === 'string' ? { 'idempotency-key': idempotencyKey } : undefined,
        };
      },
      toOutcome: ({ body }) => api.itemOutcome('Added', body),
    };
  },

  list: (api) => {
    const operation = api.operation('', 'get');
    const properties: Record<string, JsonSchema> = {};
    const required: string[] = [];
    for (const parameter of api.parameters(operation, 'query')) {
      if (parameter.name === 'completed') {
        properties.status = {
          type: 'string',
          enum: Object.keys(STATUSES),
          default: 'all',
          description: `pending: only open ${api.table}; completed: only done ones.`,
        };
        continue;
      }
      properties[parameter.name] = {
        ...api.schemaOf(parameter),
        description: parameter.description,
      };
      if (parameter.required) required.push(parameter.name);
    }
    const inputSchema = objectSchema(properties, required);
    const item = api.responseBody(operation, '200', 'items');
    return {
      name: `list_${api.table}`,
      title: operation.summary ?? `List ${api.table}`,
      description: `Lists the signed-in user's ${api.table}, a page at a time: when more follow, next_cursor is set; pass it as cursor for the next page.`,
      annotations: hints(true),
      inputSchema,
      outputSchema: objectSchema(
        {
          [api.table]: { type: 'array', items: item },
          next_cursor: {
            type: ['string', 'null'],
            description: 'Pass as cursor for the next page; null on the last page.',
          },
        },
        [api.table, 'next_cursor'],
      ),
      textArguments: inputSchema,
      toRequest: (args) => ({ method: 'GET', path: api.collectionPath, query: queryOf(args) }),
      toOutcome: ({ body, nextCursor }) => {
        const items = (body as unknown[]).map(withoutOwner);
        const lines = items.map((listed) => `- ${api.describe(listed)}`);
        const more = nextCursor === null ? '' : ' More follow: pass next_cursor as cursor.';
        return {
          structured: { [api.table]: items, next_cursor: nextCursor },
          text: [
            `${items.length} ${items.length === 1 ? api.noun : api.table}.${more}`,
            ...lines,
          ].join('\n'),
        };
      },
    };
  },

  update: (api) => {
    const operation = api.operation('/{id}', 'put');
    const body = api.requestBody(operation);
    const id = api.idArgument(operation);
    const minProperties = body.minProperties;
    return {
      name: `update_${api.noun}`,
      title: operation.summary ?? `Update a ${api.noun}`,
      description: `Changes the given fields of one of the signed-in user's ${api.table}; the others keep their value.`,
      annotations: hints(false, { destructive: true, idempotent: true }),
      inputSchema: {
        ...body,
        properties: { id, ...body.properties },
        required: ['id', ...(body.required ?? [])],
        // The id is one more property than the route's body needs.
        ...(typeof minProperties === 'number' ? { minProperties: minProperties + 1 } : {}),
      },
      outputSchema: api.responseBody(operation, '200'),
      textArguments: { ...objectSchema({ id }, ['id']), additionalProperties: true },
      toRequest: ({ id: given, ...fields }) => ({
        method: 'PUT',
        path: api.itemPath(given),
        body: fields,
      }),
      toOutcome: ({ body: answered }) => api.itemOutcome('Updated', answered),
    };
  },

  complete: (api) => {
    const operation = api.operation('/{id}', 'put');
    const completed = api.requestBody(operation).properties.completed;
    if (completed?.type !== 'boolean') {
      throw new Error(`${api.table}: complete needs a boolean completed field in its update`);
    }
    return api.itemTool(operation, {
      name: `complete_${api.noun}`,
      description: `Marks one of the signed-in user's ${api.table} completed (again, if it already is).`,
      toRequest: (path) => ({ method: 'PUT', path, body: { completed: true } }),
      verb: 'Completed',
      annotations: hints(false, { idempotent: true }),
    });
  },

  delete: (api) => {
    const operation = api.operation('/{id}', 'delete');
    const id = api.idArgument(operation);
    const trash = api.resource.changesFeed?.trash === true;
    return {
      name: `delete_${api.noun}`,
      title: operation.summary ?? `Delete a ${api.noun}`,
      description: trash
        ? `Moves one of the signed-in user's ${api.table} to the trash; restore_${api.noun} brings it back.`
        : `Deletes one of the signed-in user's ${api.table}.`,
      annotations: hints(false, { destructive: true }),
      inputSchema: objectSchema({ id }, ['id']),
      outputSchema: objectSchema({ id, deleted: { type: 'boolean', enum: [true] } }, [
        'id',
        'deleted',
      ]),
      textArguments: objectSchema({ id }, ['id']),
      toRequest: (args) => ({ method: 'DELETE', path: api.itemPath(args.id) }),
      toOutcome: (_answer, args) => ({
        structured: { id: args.id, deleted: true },
        text: `${trash ? 'Moved to the trash' : 'Deleted'}: ${api.noun} ${String(args.id)}.`,
      }),
    };
  },

  restore: (api) => {
    const operation = api.operation('/{id}/restore', 'post');
    return api.itemTool(operation, {
      name: `restore_${api.noun}`,
      description: `Brings one of the signed-in user's ${api.table} back from the trash.`,
      toRequest: (path) => ({ method: 'POST', path: `${path}/restore` }),
      verb: 'Restored',
      annotations: hints(false),
    });
  },
};

/** The REST operations of one resource, as its OpenAPI document describes them. */
class ResourceApi {
  readonly noun: string;
  readonly table: string;
  readonly collectionPath: string;

  constructor(
    readonly resource: ToolSource,
    private readonly document: OpenAPIObject,
  ) {
    this.noun = resource.noun;
    this.table = resource.table;
    this.collectionPath = encodeURIComponent(resource.table);
  }

  operation(below: string, method: keyof Operations): OperationObject {
    const path = `/api/{userId}/${this.table}${below}`;
    const operation = (this.document.paths[path] as Operations | undefined)?.[method];
    if (!operation) {
      throw new Error(
        `${this.table} declares an agent tool for ${method.toUpperCase()} ${path}, which the API does not serve`,
      );
    }
    return operation;
  }

  itemPath(id: unknown): string {
    return `${this.collectionPath}/${encodeURIComponent(String(id))}`;
  }

  parameters(operation: OperationObject, location: ParameterObject['in']): ParameterObject[] {
    return (operation.parameters ?? []).filter(
      (parameter): parameter is ParameterObject =>
        !('$ref' in parameter) && parameter.in === location,
    );
  }

  parameter(
    operation: OperationObject,
    location: ParameterObject['in'],
    name: string,
  ): ParameterObject | undefined {
    return this.parameters(operation, location).find(
      (parameter) => parameter.name.toLowerCase() === name.toLowerCase(),
    );
  }

  /**
   * A parameter's schema as a tool argument: query strings spell booleans as `"true"` and
   * `"false"`, which a tool takes as JSON booleans.
   */
  schemaOf(parameter: ParameterObject): JsonSchema {
    const schema = toJsonSchema(parameter.schema ?? { type: 'string' }, this.document);
    const values = schema.enum;
    const isBoolean =
      Array.isArray(values) &&
      values.length === 2 &&
      values.includes('true') &&
      values.includes('false');
    return isBoolean ? { type: 'boolean' } : schema;
  }

  idArgument(operation: OperationObject): JsonSchema {
    const id = this.parameter(operation, 'path', 'id');
    if (!id) throw new Error(`${this.table}: the item route has no id parameter`);
    return { ...this.schemaOf(id), description: id.description };
  }

  requestBody(operation: OperationObject): ObjectSchema {
    const body = operation.requestBody;
    const schema = body && !('$ref' in body) ? body.content['application/json']?.schema : undefined;
    if (!schema) throw new Error(`${this.table}: ${operation.operationId} has no JSON body`);
    return toObjectSchema(schema, this.document);
  }

  /** The JSON schema of a success; `items`: of one item of the array it is. */
  responseBody(operation: OperationObject, status: string, part?: 'items'): ObjectSchema {
    const response = operation.responses[status];
    let schema: SchemaObject | ReferenceObject | undefined =
      response && !('$ref' in response)
        ? response.content?.['application/json']?.schema
        : undefined;
    if (schema && part === 'items' && !('$ref' in schema) && schema.type === 'array') {
      schema = schema.items;
    }
    if (!schema) throw new Error(`${this.table}: ${operation.operationId} has no ${status} body`);
    const { properties, required, ...rest } = toObjectSchema(schema, this.document);
    return {
      ...rest,
      properties: withoutOwner(properties) as ObjectSchema['properties'],
      ...(required ? { required: required.filter((name) => name !== OWNER) } : {}),
    };
  }

  /** A tool that takes the id of one item and answers the item. */
  itemTool(
    operation: OperationObject,
    tool: {
      name: string;
      description: string;
      toRequest: (path: string) => ApiRequest;
      verb: string;
      annotations: ToolAnnotations;
    },
  ): AgentToolDefinition {
    const id = this.idArgument(operation);
    return {
      name: tool.name,
      title: operation.summary ?? tool.name,
      description: tool.description,
      annotations: tool.annotations,
      inputSchema: objectSchema({ id }, ['id']),
      outputSchema: this.responseBody(operation, '200'),
      textArguments: objectSchema({ id }, ['id']),
      toRequest: (args) => tool.toRequest(this.itemPath(args.id)),
      toOutcome: ({ body }) => this.itemOutcome(tool.verb, body),
    };
  }

  itemOutcome(verb: string, body: unknown): ToolOutcome {
    const item = withoutOwner(body);
    return { structured: item, text: `${verb} ${this.describe(item)}.` };
  }

  /** `task 0b5f… "Buy milk" (completed)`: what an agent needs to name an item back. */
  describe(item: Record<string, unknown>): string {
    const label = [item.title, item.name].find((value) => typeof value === 'string');
    const done = item.completed === true ? ' (completed)' : '';
    return `${this.noun} ${String(item.id)}${label === undefined ? '' : ` ${JSON.stringify(label)}`}${done}`;
  }
}

function objectSchema(
  properties: Record<string, JsonSchema>,
  required: string[] = [],
): ObjectSchema {
  return {
    type: 'object',
    properties,
    ...(required.length > 0 ? { required } : {}),
    additionalProperties: false,
  };
}

function withoutOwner(item: unknown): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(item as Record<string, unknown>).filter(([name]) => name !== OWNER),
  );
}

/** The list's arguments as its query string: `status` as `completed`, arrays repeated. */
function queryOf(args: Record<string, unknown>): URLSearchParams {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(args)) {
    if (name === 'status') {
      const completed = STATUSES[value as keyof typeof STATUSES];
      if (completed !== undefined) query.append('completed', completed);
    } else if (Array.isArray(value)) {
      for (const each of value) query.append(name, String(each));
    } else if (value !== undefined && value !== null) {
      query.append(name, String(value));
    }
  }
  return query;
}
