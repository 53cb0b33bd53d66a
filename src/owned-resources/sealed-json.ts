import { hash } from 'node:crypto';

/*
 * The opaque strings the API hands out and takes back (the list cursor, the feed's sync token):
 * a JSON value as base64url, then a dot and a checksum of that JSON. A checksum, not a signature:
 * it catches a string altered or cut short on its way back; whatever it holds only positions the
 * caller within their own rows.
 */

const SEALED = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{12})$/;

/** `hash` is node:crypto's one-shot digest, half the cost of a `createHash` object. */
const checksum = (json: string): string =>
  hash('sha256', json, 'buffer').subarray(0, 9).toString('base64url');

export function seal(value: unknown): string {
  const json = JSON.stringify(value);
  return `${Buffer.from(json).toString('base64url')}.${checksum(json)}`;
}

/** The value `seal` wrapped, or undefined for anything `seal` could not have written. */
export function unseal(sealed: string, maxLength: number): unknown {
  const parts = sealed.length <= maxLength ? SEALED.exec(sealed) : null;
  if (!parts) return undefined;
  const json = Buffer.from(parts[1], 'base64url').toString('utf8');
  // Re-encoding catches what decoding forgives: stray padding bits, invalid UTF-8.
  if (Buffer.from(json).toString('base64url') !== parts[1] || checksum(json) !== parts[2]) {
    return undefined;
  }
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return undefined;
  }
}
