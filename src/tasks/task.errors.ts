import { DataLayerError } from '../database/data-layer.errors';

/** No task with that id belongs to that owner: another user's task is reported the same way. */
export class TaskNotFoundError extends DataLayerError {
  constructor(readonly taskId: string) {
    super('Task not found');
  }
}

/** The task's version is not the one the caller expected (`If-Match`). */
export class VersionConflictError extends DataLayerError {
  constructor(
    readonly taskId: string,
    readonly expectedVersion: number,
    readonly currentVersion: number,
  ) {
    super('Task version does not match');
  }
}

/** Input refused before any SQL ran (a blank owner id, an empty update). */
export class InvalidTaskInputError extends DataLayerError {
  constructor(
    message: string,
    readonly field: string | null,
  ) {
    super(message);
  }
}
