import { PageQueryDto } from '../../owned-resources/pagination';
import { DEFAULT_LIST_SORT, LIST_SORTS } from '../lists.resource';

/** Query of `GET /api/:userId/lists`. */
export class ListListsQueryDto extends PageQueryDto(LIST_SORTS, DEFAULT_LIST_SORT) {}
