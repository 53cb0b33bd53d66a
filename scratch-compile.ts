import { DataSource } from 'typeorm';
import { compileStatement } from './src/database/compiled-statements';
import { LIST_TASKS } from './src/tasks/task-list.statements';
import { Task } from './src/tasks/task.entity';
import { List } from './src/lists/list.entity';
(async () => {
  const ds = new DataSource({ type: 'postgres', url: 'postgresql://postgres@127.0.0.1:5432/scratch22', entities: [Task, List] });
  await ds.initialize();
  for (const shape of [{ sort: 'due', resumed: true, tagged: true, searched: true }, { sort: 'relevance', resumed: true, tagged: false, searched: true }, { sort: '-priority', resumed: false, tagged: false, searched: false }] as const) {
    const c = compileStatement(ds, LIST_TASKS, shape);
    console.log(c.text, c.order);
  }
  await ds.destroy();
})();
