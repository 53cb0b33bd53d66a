import { CreateTasks1732406400000 } from './1732406400000-create-tasks';
import { CreateLists1733000000000 } from './1733000000000-create-lists';

/** Every migration, oldest first. Listed rather than globbed so that ts-node, jest and the
 * compiled build load the same classes. */
export const MIGRATIONS = [CreateTasks1732406400000, CreateLists1733000000000];
