import { DataLayerError } from '../database/data-layer.errors';

/** An `Idempotency-Key` already used by the caller for another request (specification §9). */
export class IdempotencyKeyReusedError extends DataLayerError {
  constructor(readonly key: string) {
    super('The idempotency key was used for another request');
  }
}

/**
 * A key whose row kept changing under the retry (released and taken again by other requests
 * several times over): the client retries later. Waiting on the key's index is the usual path.
 */
export class IdempotencyKeyInUseError extends DataLayerError {
  constructor(readonly key: string) {
    super('The idempotency key is in use by another request');
  }
}

/** A changes-feed token older than the purged tombstones (specification §10). */
export class SyncTokenExpiredError extends DataLayerError {
  constructor(readonly resource: string) {
    super('The sync token has expired');
  }
}
