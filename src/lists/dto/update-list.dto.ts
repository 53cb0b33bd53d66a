import { CreateListDto } from './create-list.dto';

/** Body of `PUT /api/:userId/lists/:id`: the new name (a list has no other field to change). */
export class UpdateListDto extends CreateListDto {}
