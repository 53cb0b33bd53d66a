import type { Client } from 'pg';

/**
 * Data fixtures: rows written straight into the database, the way a test states what exists
 * before it calls the API. Each returns the row as stored (snake_case columns).
 */

export interface TaskRow {
  id: string;
  user_id: string;
  title: string;
  description: string | null;
  completed: boolean;
  list_id: string | null;
  version: number;
  created_at: Date;
  updated_at: Date;
}

export interface ListRow {
  id: string;
  user_id: string;
  name: string;
  version: number;
  created_at: Date;
  updated_at: Date;
}

let sequence = 0;

export async function givenTask(
  db: Client,
  userId: string,
  fields: Partial<Pick<TaskRow, 'title' | 'description' | 'completed' | 'list_id'>> = {},
): Promise<TaskRow> {
  const { rows } = await db.query<TaskRow>(
    `INSERT INTO tasks (user_id, title, description, completed, list_id)
     VALUES ($1, $2, $3, $4, $5) RETURNING *`,
    [
      userId,
      fields.title ?? `task ${++sequence}`,
      fields.description ?? null,
      fields.completed ?? false,
      fields.list_id ?? null,
    ],
  );
  return rows[0];
}

export async function givenList(
  db: Client,
  userId: string,
  fields: Partial<Pick<ListRow, 'name'>> = {},
): Promise<ListRow> {
  const { rows } = await db.query<ListRow>(
    `INSERT INTO lists (user_id, name) VALUES ($1, $2) RETURNING *`,
    [userId, fields.name ?? `list ${++sequence}`],
  );
  return rows[0];
}

/** The whole row as PostgreSQL prints it, and xmin, which any UPDATE changes: "unchanged". */
export async function rowSnapshot(db: Client, table: string, id: string): Promise<string> {
  const { rows } = await db.query<{ row: string }>(
    `SELECT r::text || ' xmin=' || r.xmin AS row FROM ${table} r WHERE id = $1`,
    [id],
  );
  return rows[0]?.row ?? 'deleted';
}
