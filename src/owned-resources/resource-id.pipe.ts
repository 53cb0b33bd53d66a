import { ParseUUIDPipe } from '@nestjs/common';
import { InvalidUuidError } from '../http/request-errors';

/** The `:id` of an item route: a UUID, else 400 INVALID_UUID naming the resource's id. */
export const resourceIdPipe = (noun: string): ParseUUIDPipe =>
  new ParseUUIDPipe({ exceptionFactory: () => new InvalidUuidError(`${noun} id`) });
