import { BooleanField, ReferenceField } from '../../owned-resources/fields';
import { NameField, OptionalTextField } from '../../owned-resources/text-fields';

export const TITLE_MAX_LENGTH = 255;
export const DESCRIPTION_MAX_LENGTH = 10_000;

/** A title: stored trimmed, not blank, at most 255 characters. */
export const TitleField = ({ required }: { required: boolean }) =>
  NameField({ name: 'title', required, maxLength: TITLE_MAX_LENGTH, example: 'Buy milk' });

/** An optional description; null means none (and, in an update, clears it). */
export const DescriptionField = () =>
  OptionalTextField({ maxLength: DESCRIPTION_MAX_LENGTH, example: '2 litres, semi-skimmed' });

/** A JSON boolean: the string "true" is refused, never coerced. */
export const CompletedField = ({ description }: { description: string }) =>
  BooleanField({ description });

/** The task's list: a list id of the caller's, or null for none (specification §8). */
export const ListIdField = ({ description }: { description: string }) =>
  ReferenceField({ name: 'list_id', description });
