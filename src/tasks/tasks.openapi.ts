import { ownedResourceApi } from '../owned-resources/owned-resource.openapi';
import { TaskResponse } from './dto/task.response';

/** The OpenAPI description of the tasks routes (see `ownedResourceApi`). */
export const TasksApi = ownedResourceApi({
  tag: 'tasks',
  noun: 'task',
  response: TaskResponse,
  notFoundCode: 'TASK_NOT_FOUND',
});
