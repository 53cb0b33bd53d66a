import { ownedResourceApi } from '../owned-resources/owned-resource.openapi';
import { ListResponse } from './dto/list.response';

/** The OpenAPI description of the lists routes (see `ownedResourceApi`). */
export const ListsApi = ownedResourceApi({
  tag: 'lists',
  noun: 'list',
  response: ListResponse,
  notFoundCode: 'LIST_NOT_FOUND',
});
