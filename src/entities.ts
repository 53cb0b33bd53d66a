import { List } from './lists/list.entity';
import { Task } from './tasks/task.entity';

/**
 * Every TypeORM entity of the service: the one list the application, the migration CLI
 * (`ormconfig.ts`) and the tests register. A new resource adds its entity here.
 */
export const ENTITIES = [Task, List];
