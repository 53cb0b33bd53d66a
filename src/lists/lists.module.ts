import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { List } from './list.entity';
import { ListsController } from './lists.controller';
import { ListsRepository, TypeOrmListsRepository } from './lists.repository';
import { LISTS } from './lists.resource';

@Module({
  imports: [TypeOrmModule.forFeature([List])],
  controllers: [ListsController],
  providers: [{ provide: ListsRepository, useClass: TypeOrmListsRepository }],
  exports: [ListsRepository],
})
export class ListsModule {
  /** What the registry of resources (src/resources.ts) reads. */
  static readonly resource = LISTS;
}
