import { ApiProperty } from '@nestjs/swagger';
import type { List } from '../list.entity';

/** A list on the wire (specification §8): snake_case, ISO-8601 UTC timestamps. */
export class ListResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ description: "The owner's id: the token's subject." })
  user_id!: string;

  @ApiProperty({ maxLength: 255 })
  name!: string;

  @ApiProperty({ format: 'date-time', example: '2025-01-31T09:30:00.000Z' })
  created_at!: string;

  @ApiProperty({ format: 'date-time', example: '2025-01-31T09:30:00.000Z' })
  updated_at!: string;
}

export function toListResponse(list: List): ListResponse {
  return {
    id: list.id,
    user_id: list.userId,
    name: list.name,
    created_at: list.createdAt,
    updated_at: list.updatedAt,
  };
}
