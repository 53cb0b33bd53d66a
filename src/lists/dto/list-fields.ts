import { NameField } from '../../owned-resources/text-fields';
import { NAME_MAX_LENGTH } from '../lists.resource';

/** A list's name: stored trimmed, not blank, at most 255 characters. */
export const ListNameField = () =>
  NameField({ name: 'name', required: true, maxLength: NAME_MAX_LENGTH, example: 'Groceries' });
