import { ownedCrudController } from '../owned-resources/owned-crud.controller';
import { CreateListDto } from './dto/create-list.dto';
import { UpdateListDto } from './dto/update-list.dto';
import { ListsRepository } from './lists.repository';
import { LISTS } from './lists.resource';

/** The lists REST API (specification §8): the routes every owned resource has. */
export class ListsController extends ownedCrudController({
  resource: LISTS,
  repository: ListsRepository,
  createBody: CreateListDto,
  updateBody: UpdateListDto,
  plural: 'task lists',
  describe: {
    update: {
      summary: 'Rename a task list',
      description: 'With `If-Match`, only if the list is still at that version (else 412).',
    },
    remove: {
      summary: 'Delete a task list and its tasks',
      description:
        'Deletes the list and, for good, every task in it (live or in the trash); the changes feed reports each as deleted.',
    },
  },
}) {}
