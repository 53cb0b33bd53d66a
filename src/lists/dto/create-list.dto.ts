import { NameField } from '../../owned-resources/text-fields';
import { NAME_MAX_LENGTH } from '../lists.resource';

/** Body of `POST /api/:userId/lists`. */
export class CreateListDto {
  @NameField({ name: 'name', required: true, maxLength: NAME_MAX_LENGTH, example: 'Groceries' })
  name!: string;
}
