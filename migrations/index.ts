import { CreateTasks1732406400000 } from './1732406400000-create-tasks';

/** Every migration, oldest first. Listed rather than globbed so that ts-node, jest and the
 * compiled build load the same classes. */
export const MIGRATIONS = [CreateTasks1732406400000];
