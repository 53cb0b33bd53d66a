import type { SentStatement } from './latency-proxy';
import type { ServerProcess } from './processes';

/**
 * Whether the floor does the service's work: the same answers and the same SQL. A ratio to a
 * floor that answers less, or sends other statements, measures that difference rather than the
 * stack, so every difference found is a warning, in the run's log and in the report's notes.
 */

const warnings: string[] = [];

/** Prints a warning now and keeps it for the report; one found again (another pair of the same
 * two servers) is not repeated. */
export function warn(message: string): void {
  if (warnings.includes(message)) return;
  warnings.push(message);
  process.stdout.write(`  WARNING: ${message}\n`);
}

/** The warnings of this run so far. */
export const parityWarnings = (): readonly string[] => warnings;

// Headers whose value is each response's own (or a server's own encoding of the same thing):
// compared by name only.
const OWN_VALUES = new Set(['date', 'x-request-id', 'link', 'content-length']);
// Body keys whose value is each server's own sealing of the same position (random IV).
const OWN_BODY_VALUES = new Set(['next']);
// How many differences of one answer are listed before "…".
const SHOWN = 4;

interface Answer {
  status: number;
  headers: Map<string, string>;
  body: unknown;
}

/** The differences between two JSON values, by path: keys, their order, and values. */
function differences(
  service: unknown,
  floor: unknown,
  path: string,
  found: string[],
  other = 'floor',
): void {
  if (found.length > SHOWN) return;
  if (Array.isArray(service) && Array.isArray(floor)) {
    if (service.length !== floor.length) {
      found.push(`${path || 'body'}: ${service.length} items vs ${floor.length}`);
    }
    // The first item that differs, and how many do: a page's items differ alike.
    let differing = 0;
    for (let i = 0; i < Math.min(service.length, floor.length); i++) {
      const own: string[] = [];
      differences(service[i], floor[i], `${path}[${i}]`, own, other);
      if (own.length > 0 && differing++ === 0) found.push(...own);
    }
    if (differing > 1) found.push(`${path || 'body'}: ${differing} items differ`);
    return;
  }
  const isObject = (value: unknown): value is Record<string, unknown> =>
    typeof value === 'object' && value !== null && !Array.isArray(value);
  if (isObject(service) && isObject(floor)) {
    const serviceKeys = Object.keys(service);
    const floorKeys = Object.keys(floor);
    const missing = serviceKeys.filter((key) => !(key in floor));
    const extra = floorKeys.filter((key) => !(key in service));
    const where = path || 'body';
    if (missing.length > 0) found.push(`${where}: the ${other} lacks ${missing.join(', ')}`);
    if (extra.length > 0) found.push(`${where}: the ${other} adds ${extra.join(', ')}`);
    if (missing.length === 0 && extra.length === 0 && serviceKeys.join() !== floorKeys.join()) {
      found.push(`${where}: keys in another order (${floorKeys.join(', ')})`);
    }
    for (const key of serviceKeys.filter((name) => name in floor)) {
      if (OWN_BODY_VALUES.has(key) && typeof service[key] === typeof floor[key]) continue;
      differences(service[key], floor[key], `${path}.${key}`, found, other);
    }
    return;
  }
  if (JSON.stringify(service) !== JSON.stringify(floor)) {
    found.push(`${path || 'body'}: ${JSON.stringify(service)} vs ${JSON.stringify(floor)}`);
  }
}

function headerDifferences(service: Map<string, string>, floor: Map<string, string>): string[] {
  const found: string[] = [];
  const missing = [...service.keys()].filter((name) => !floor.has(name));
  const extra = [...floor.keys()].filter((name) => !service.has(name));
  if (missing.length > 0) found.push(`the floor lacks header ${missing.join(', ')}`);
  if (extra.length > 0) found.push(`the floor adds header ${extra.join(', ')}`);
  for (const [name, value] of service) {
    if (OWN_VALUES.has(name) || !floor.has(name) || floor.get(name) === value) continue;
    found.push(`header ${name}: ${JSON.stringify(value)} vs ${JSON.stringify(floor.get(name))}`);
  }
  return found;
}

async function answer(server: ServerProcess, path: string, token: string): Promise<Answer> {
  const response = await fetch(new URL(path, server.url), {
    headers: { authorization: `Bearer ${token}` },
  });
  return {
    status: response.status,
    headers: new Map(response.headers),
    body: await response.json(),
  };
}

/**
 * Asks both servers for each check's path (a task; a page of each route, page 200 by its path on
 * each, from their own Link headers), and warns of every difference in status, headers, keys (and
 * their order) and values. The paths are asked of one server right after the other, so that
 * both see the same rows.
 */
export async function compareAnswers(
  pair: { service: ServerProcess; floor: ServerProcess },
  checks: [what: string, servicePath: string, floorPath: string, user: string][],
  token: (user: string) => string,
  /** The other server's name in warnings; the conventional peer is not held to the headers. */
  other: 'floor' | 'peer' = 'floor',
): Promise<void> {
  for (const [what, servicePath, floorPath, user] of checks) {
    const service = await answer(pair.service, servicePath, token(user));
    const floor = await answer(pair.floor, floorPath, token(user));
    const found: string[] = [];
    if (service.status !== floor.status) found.push(`status ${service.status} vs ${floor.status}`);
    differences(service.body, floor.body, '', found, other);
    if (other === 'floor') found.push(...headerDifferences(service.headers, floor.headers));
    if (found.length > 0) {
      const shown = found.slice(0, SHOWN).join('; ');
      warn(
        `${what}: the ${other}'s answer differs from the service's (service vs ${other}): ${shown}` +
          (found.length > SHOWN ? '; …' : ''),
      );
    }
  }
}

// A text run by fewer than this share of a route's requests is not the route's (a periodic job
// of the service, a health check).
const ROUTE_SHARE = 0.1;

/** Where two texts part, with some of each from there. */
function firstDifference(service: string, floor: string): string {
  let at = 0;
  while (at < service.length && service[at] === floor[at]) at++;
  const from = Math.max(0, at - 20);
  return `from character ${at}: «${service.slice(from, at + 60)}» vs «${floor.slice(from, at + 60)}»`;
}

/**
 * Warns when the floor ran other SQL than the service for `route` (white space collapsed; the
 * names the statements were prepared under are not compared), or prepared what the service sent
 * unnamed, or the other way round.
 */
export function compareStatements(
  route: string,
  service: { statements: SentStatement[]; requests: number },
  floor: { statements: SentStatement[]; requests: number },
): void {
  const routeOwn = (side: { statements: SentStatement[]; requests: number }): SentStatement[] =>
    side.statements.filter((statement) => statement.count >= ROUTE_SHARE * side.requests);
  const serviceTexts = routeOwn(service);
  const floorTexts = routeOwn(floor);
  if (serviceTexts.length === 0 || floorTexts.length === 0) {
    warn(
      `${route}: no SQL was recorded for the ${serviceTexts.length === 0 ? 'service' : 'floor'}`,
    );
    return;
  }
  const floorByText = new Map(floorTexts.map((statement) => [statement.text, statement]));
  const unmatched = serviceTexts.filter((statement) => !floorByText.has(statement.text));
  const serviceByText = new Set(serviceTexts.map((statement) => statement.text));
  const extra = floorTexts.filter((statement) => !serviceByText.has(statement.text));
  if (unmatched.length === 1 && extra.length === 1) {
    warn(
      `${route}: the floor's SQL differs from the service's, ` +
        firstDifference(unmatched[0].text, extra[0].text),
    );
  } else if (unmatched.length > 0 || extra.length > 0) {
    const texts = (list: SentStatement[]): string =>
      list.map((statement) => `«${statement.text.slice(0, 80)}…»`).join(', ') || 'none';
    warn(
      `${route}: the floor's SQL differs from the service's: only the service ran ${texts(unmatched)}; ` +
        `only the floor ran ${texts(extra)}`,
    );
  }
  const prepared = (statement: SentStatement): boolean => statement.named > statement.count / 2;
  for (const statement of serviceTexts) {
    const other = floorByText.get(statement.text);
    if (other && prepared(other) !== prepared(statement)) {
      warn(
        `${route}: the service sends «${statement.text.slice(0, 60)}…» ` +
          `${prepared(statement) ? 'named (prepared)' : 'unnamed'}, the floor ` +
          `${prepared(other) ? 'named (prepared)' : 'unnamed'}`,
      );
    }
  }
}
