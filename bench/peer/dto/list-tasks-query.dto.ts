import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';

/** Query of `GET /api/:userId/tasks`: a page of `limit`, after the `cursor` of a `Link` header. */
export class ListTasksQueryDto {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit: number = 1000;

  @IsOptional()
  @IsString()
  cursor?: string;
}
