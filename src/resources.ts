import { ListsModule } from './lists/lists.module';
import { TasksModule } from './tasks/tasks.module';

/**
 * Every owned resource of the service, by its feature module: the one list a new resource is
 * added to (`npm run new:resource` does it). The application's modules, the entities, the
 * OpenAPI tags, the not-found codes and the shared test suite's cases all follow from it.
 */
export const RESOURCE_MODULES = [TasksModule, ListsModule];
