import { DataLayerError } from './data-layer.errors';

/**
 * The errors every owned resource shares. Each carries what its response needs (the catalogue
 * code, the resource's noun), so the HTTP layer maps each class once, whatever the resource.
 */

/** No such resource for this owner: another user's is reported the same way. */
export class ResourceNotFoundError extends DataLayerError {
  constructor(
    /** The error catalogue's code for this resource: `TASK_NOT_FOUND`, `LIST_NOT_FOUND`. */
    readonly code: string,
    /** How a message names the resource: "task". */
    readonly noun: string,
    readonly id: string,
  ) {
    super(`${noun} not found`);
  }
}

/** The resource's version is not the one the caller expected (`If-Match`). */
export class VersionConflictError extends DataLayerError {
  constructor(
    readonly noun: string,
    readonly id: string,
    readonly expectedVersion: number,
    readonly currentVersion: number,
  ) {
    super(`${noun} version does not match`);
  }
}

/** Input refused before any SQL ran (a blank owner id, an empty update). */
export class InvalidInputError extends DataLayerError {
  constructor(
    message: string,
    readonly field: string | null,
  ) {
    super(message);
  }
}
