import type { Client } from 'pg';
import type { NotFoundCode } from '../../src/http/error-codes';
import type { OwnedEntity, OwnedResource } from '../../src/owned-resources/owned-resource';
import { wireNamesOf } from '../../src/owned-resources/wire-form';
import { RESOURCE_MODULES } from '../../src/resources';

/**
 * What the shared suite (owned-resources.spec.ts) knows of each owned resource, derived from the
 * registry (src/resources.ts) and the OpenAPI document the app serves: a resource added to the
 * registry is tested with no entry written for it.
 */
export interface OwnedResourceCase {
  /** The collection's path segment, and its table. */
  name: string;
  noun: string;
  notFoundCode: NotFoundCode;
  /** Each sort of the collection, and the SQL order it must follow (ties by id). */
  sorts: Record<string, string>;
  /** DELETE moves a row to the trash (`deleted_at`) rather than deleting it. */
  trash: boolean;
  /** The required text that the text sort orders by: a fixture's label. */
  label: string;
}

// The registry holds resources of different entities: each is read as a resource of any entity.
const RESOURCES = RESOURCE_MODULES.map(
  ({ resource }) => resource as unknown as OwnedResource<OwnedEntity, string>,
);

export const OWNED_RESOURCE_CASES: OwnedResourceCase[] = RESOURCES.map((resource) => {
  // A composite sort (a resource's own list statement) orders by expressions, not one column.
  const sorts = Object.entries(resource.sorts).flatMap(([sort, key]) => {
    if (key.type === 'composite') return [];
    const [[, column]] = wireNamesOf(resource.entity, [key.property]);
    const direction = key.descending ? 'DESC' : 'ASC';
    return [[sort, key, `${column} ${direction}, id ${direction}`] as const];
  });
  const text = sorts.find(([, key]) => key.type === 'text');
  if (!text) throw new Error(`${resource.table} has no text sort for the fixtures' labels`);
  return {
    name: resource.table,
    noun: resource.noun,
    notFoundCode: resource.notFoundCode,
    sorts: Object.fromEntries(sorts.map(([sort, , order]) => [sort, order])),
    trash: resource.changesFeed?.trash === true,
    label: wireNamesOf(resource.entity, [text[1].property])[0][1],
  };
});

interface Schema {
  required?: string[];
  properties?: Record<string, { example?: unknown; minLength?: number }>;
}
interface Operation {
  requestBody?: { content: Record<string, { schema: { $ref?: string } }> };
  responses: Record<string, unknown>;
}
export interface ServedDocument {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

/** An item route of a resource's own (`PATCH …/:id/complete`), as the document describes it. */
export interface ItemRoute {
  method: 'get' | 'put' | 'post' | 'patch' | 'delete';
  /** The path after the item's: `/complete`. */
  suffix: string;
  /** It takes `If-Match`: a change of a live item (else, such as a restore, not 200 on one). */
  conditional: boolean;
}

/** The bodies and routes the suite uses, read from the served document. */
export interface DocumentedCase {
  /** A valid body for POST (the required fields' examples), and one for PUT. */
  createBody: Record<string, unknown>;
  updateBody: Record<string, unknown>;
  /** A body refused by validation, and the field it names. */
  invalidBody: { body: object; field: string };
  /** The item routes besides GET, PUT and DELETE of `/:id`. */
  otherItemRoutes: ItemRoute[];
}

export function documentedCase(
  document: ServedDocument,
  resource: OwnedResourceCase,
): DocumentedCase {
  const collection = `/api/{userId}/${resource.name}`;
  const item = `${collection}/{id}`;
  const bodyOf = (operation: Operation | undefined): Schema => {
    const ref = operation?.requestBody?.content['application/json'].schema.$ref;
    const schema = ref && document.components.schemas[ref.split('/').at(-1) as string];
    if (!schema) throw new Error(`${resource.name}: no documented body`);
    return schema;
  };
  const create = bodyOf(document.paths[collection]?.post);
  const createBody = Object.fromEntries(
    (create.required ?? []).map((name) => {
      const example = create.properties?.[name]?.example;
      if (example === undefined) throw new Error(`${resource.name}: give ${name} an example`);
      return [name, example];
    }),
  );
  if (create.properties?.[resource.label]?.minLength !== 1) {
    throw new Error(`${resource.name}: ${resource.label} should be a NameField (not blank)`);
  }
  const otherItemRoutes = Object.entries(document.paths)
    .filter(([path]) => path.startsWith(`${item}/`))
    .flatMap(([path, operations]) =>
      Object.entries(operations).map(([method, operation]) => ({
        method: method as ItemRoute['method'],
        suffix: path.slice(item.length),
        conditional: '412' in operation.responses,
      })),
    );
  return {
    createBody,
    updateBody: { [resource.label]: 'renamed' },
    invalidBody: { body: { [resource.label]: '  ' }, field: resource.label },
    otherItemRoutes,
  };
}

let sequence = 0;

/** A row of `owner`'s, written straight into the database from the create body's columns. */
export async function givenOwnedRow(
  db: Client,
  resource: OwnedResourceCase,
  createBody: Record<string, unknown>,
  owner: string,
  label = `${resource.noun} ${++sequence}`,
): Promise<{ id: string }> {
  const row = { ...createBody, user_id: owner, [resource.label]: label };
  const columns = Object.keys(row);
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO ${resource.name} (${columns.join(', ')})
     VALUES (${columns.map((_, index) => `$${index + 1}`).join(', ')}) RETURNING id`,
    Object.values(row),
  );
  return rows[0];
}
