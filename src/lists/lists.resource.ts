import { bothWays, ownedResource } from '../owned-resources/owned-resource';
import { List } from './list.entity';

export const NAME_MAX_LENGTH = 255;

/** Task lists as an owned resource (specification §8). */
export const LISTS = ownedResource({
  table: 'lists',
  entity: List,
  noun: 'list',
  notFoundCode: 'LIST_NOT_FOUND',
  sorts: {
    ...bothWays('created_at', { property: 'createdAt', type: 'timestamp' }),
    ...bothWays('name', {
      property: 'name',
      type: 'text',
      maxLength: NAME_MAX_LENGTH,
    }),
  },
  filters: [],
  insertable: ['name'],
  updatable: ['name'],
  idempotentCreates: true,
  changesFeed: { trash: false },
  agentTools: ['add', 'list'],
  constraints: {
    ck_lists_name_not_blank: { field: 'name' },
    ck_lists_user_id_not_blank: { field: 'user_id' },
  },
});

export type ListSort = keyof typeof LISTS.sorts;

export interface ListInput {
  name: string;
}
