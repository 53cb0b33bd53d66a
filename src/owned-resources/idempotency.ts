import { createHash } from 'node:crypto';
import {
  createParamDecorator,
  type ExecutionContext,
  Injectable,
  PipeTransform,
} from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AppConfig } from '../config/app-config';
import { RequestValidationError } from '../http/request-errors';

/** A create's `Idempotency-Key` (specification §9), ready for the repository. */
export interface IdempotentRequest {
  key: string;
  /** The collection's path, ending in `/`: the request hash covers it, and it prefixes Location. */
  collectionPath: string;
  ttlHours: number;
}

interface KeyHeader {
  key: string | string[] | undefined;
  path: string;
}

// At most 255 printable ASCII characters (the key is stored, and compared, as it is).
const KEY = /^[\x20-\x7e]{1,255}$/;

/** Checks the header and adds the key's lifetime; no header: `undefined`, a plain create. */
@Injectable()
export class IdempotencyKeyPipe implements PipeTransform<KeyHeader, IdempotentRequest | undefined> {
  constructor(private readonly config: AppConfig) {}

  transform({ key, path }: KeyHeader): IdempotentRequest | undefined {
    if (key === undefined) return undefined;
    if (typeof key !== 'string' || !KEY.test(key)) {
      throw RequestValidationError.of(
        'Idempotency-Key',
        'Idempotency-Key must be 1 to 255 printable ASCII characters, sent once',
      );
    }
    return {
      key,
      collectionPath: `${path.replace(/\/+$/, '')}/`,
      ttlHours: this.config.retention.idempotencyTtlHours,
    };
  }
}

/**
 * The header's value, or every value when it was sent more than once: Node joins repeated
 * headers with ", ", which would turn two keys into a third, so they are counted in the raw
 * headers and refused.
 */
const keyHeader = createParamDecorator((_data: unknown, context: ExecutionContext): KeyHeader => {
  const request = context.switchToHttp().getRequest<FastifyRequest>();
  const raw = request.raw.rawHeaders;
  const sent: string[] = [];
  for (let at = 0; at < raw.length; at += 2) {
    if (raw[at].toLowerCase() === 'idempotency-key') sent.push(raw[at + 1]);
  }
  const key = sent.length > 1 ? sent : request.headers['idempotency-key'];
  return { key, path: request.url.split('?')[0] };
});

/** The create's `IdempotentRequest`, or `undefined` without the header; 400 if malformed. */
export const IdempotencyKey = (): ParameterDecorator => keyHeader(undefined, IdempotencyKeyPipe);

/** JSON with object keys sorted and undefined values dropped: one text per meaning. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    const entries = Object.entries(value)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([name, item]) => `${JSON.stringify(name)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * What a retry must repeat to be the same request: SHA-256 (hex) of the method, the collection's
 * path and the canonical form of the validated input, so that key order, whitespace and absent
 * optional fields do not make a retry look like another request.
 */
export const requestHash = (collectionPath: string, input: object): string =>
  createHash('sha256')
    .update(JSON.stringify(['POST', collectionPath, canonicalJson(input)]))
    .digest('hex');
