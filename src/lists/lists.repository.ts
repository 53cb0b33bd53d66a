import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { defineOwnedStatements } from '../owned-resources/owned-statements';
import { OwnedRepository, TypeOrmOwnedRepository } from '../owned-resources/owned.repository';
import { List } from './list.entity';
import { type ListInput, type ListSort, LISTS } from './lists.resource';

const STATEMENTS = defineOwnedStatements(LISTS);

/** Data access for lists; the abstract class is the DI token. */
export abstract class ListsRepository extends OwnedRepository<
  List,
  ListSort,
  ListInput,
  ListInput
> {}

/** Deleting a list deletes its tasks: the foreign key of `tasks` cascades, in the same statement. */
@Injectable()
export class TypeOrmListsRepository
  extends TypeOrmOwnedRepository<List, ListSort, ListInput, ListInput>
  implements ListsRepository
{
  constructor(@InjectRepository(List) lists: Repository<List>) {
    super(LISTS, STATEMENTS, lists);
  }
}
