import type { FastifyReply } from 'fastify';
import { RequestValidationError } from '../http/request-errors';

/** The strong entity tag of a resource's version: `"3"`. */
export const entityTag = (version: number): string => `"${version}"`;

/** Entities whose version is no longer their resource's current one. */
const outdated = new WeakSet<object>();

/**
 * Marks an entity whose version is not the current one of its resource: an idempotent replay of
 * a create that has been changed (or trashed) since. Its answer repeats the first one's body, but
 * carries no ETag: an ETag names the current version (RFC 9110 §8.8.3), and an `If-Match` with
 * the created version would fail.
 */
export function untagged<E extends object>(entity: E): E {
  outdated.add(entity);
  return entity;
}

/** Sets the `ETag` of `entity` on the reply (unless `untagged`) and returns its wire form. */
export function withEntityTag<E extends { version: number }, R>(
  reply: FastifyReply,
  entity: E,
  toResponse: (entity: E) => R,
): R {
  if (!outdated.has(entity)) reply.header('ETag', entityTag(entity.version));
  return toResponse(entity);
}

const SINGLE_TAG = /^"([1-9][0-9]{0,9})"$/;

/**
 * The version an `If-Match` header requires: `undefined` when there is no header or it is `*`
 * (any current version; the resource must still exist). Anything but `*` or one tag this service
 * issued (`"<version>"`) is a 400: weak tags, lists and other strings could never match.
 */
export function expectedVersion(ifMatch: string | undefined, noun: string): number | undefined {
  if (ifMatch === undefined) return undefined;
  const value = ifMatch.trim();
  if (value === '*') return undefined;
  const tag = SINGLE_TAG.exec(value);
  const version = tag ? Number(tag[1]) : NaN;
  if (!Number.isSafeInteger(version) || version > 2_147_483_647) {
    throw RequestValidationError.of(
      'If-Match',
      `If-Match must be * or the ETag of the ${noun}, for example "3"`,
    );
  }
  return version;
}
