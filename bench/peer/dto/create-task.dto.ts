import { IsBoolean, IsIn, IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';

export const PRIORITIES = ['none', 'low', 'medium', 'high'];

/** Body of `POST /api/:userId/tasks`: the plain fields (no list, due dates, tags or recurrence). */
export class CreateTaskDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(255)
  title!: string;

  @IsOptional()
  @IsString()
  @MaxLength(10_000)
  description?: string | null;

  @IsOptional()
  @IsBoolean()
  completed?: boolean;

  @IsOptional()
  @IsIn(PRIORITIES)
  priority?: string;
}
