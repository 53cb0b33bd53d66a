import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsOptional, IsUUID } from 'class-validator';
import { IsOptionalButNotNull } from './text-fields';

/**
 * The body fields that are not text (those are in text-fields.ts): each is the validation and
 * the OpenAPI description of one field, so that a DTO says only which fields it has.
 */

/** A JSON boolean, optional (its column has a default); null and the string "true" are refused. */
export const BooleanField = ({ description }: { description: string }) =>
  applyDecorators(
    ApiProperty({ required: false, type: Boolean, description }),
    IsOptionalButNotNull(),
    IsBoolean(),
  );

/** One of `values`; optional unless `required` (its column has a default); null is refused. */
export const EnumField = ({
  name,
  values,
  required = false,
  description,
}: {
  name: string;
  values: readonly string[];
  required?: boolean;
  description: string;
}) =>
  applyDecorators(
    ApiProperty({ required, type: String, enum: values, description }),
    ...(required ? [] : [IsOptionalButNotNull()]),
    IsIn(values, { message: `${name} must be one of ${values.join(', ')}` }),
  );

/**
 * The id of another resource of the same owner, or null for none. Only its form is checked
 * here: the table's foreign key on `(user_id, <name>)` refuses a missing one and another user's
 * alike, mapped to this field by the resource's `constraints` (see docs/extending.md).
 */
export const ReferenceField = ({ name, description }: { name: string; description: string }) =>
  applyDecorators(
    ApiProperty({ required: false, type: String, format: 'uuid', nullable: true, description }),
    IsOptional(),
    IsUUID('all', { message: `${name} must be a UUID or null` }),
  );
