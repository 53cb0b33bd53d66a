import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Task lists (specification §8): the `lists` table, and `tasks.list_id`. The foreign key is on
 * `(user_id, list_id)` and references `lists (user_id, id)`, so a task can only ever be in a list
 * of its own owner: the schema refuses anything else, with no extra query. Deleting a list
 * deletes its tasks (ON DELETE CASCADE), served by the index that leads with `(user_id, list_id)`.
 * On a large `tasks` table, the index is better built beforehand with CREATE INDEX CONCURRENTLY
 * under the same name (this migration then only adds the column and the key).
 */
export class CreateLists1733000000000 implements MigrationInterface {
  name = 'CreateLists1733000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE lists (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        user_id varchar(255) NOT NULL,
        name varchar(255) NOT NULL,
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now(),
        CONSTRAINT pk_lists PRIMARY KEY (id),
        CONSTRAINT uq_lists_user_id_id UNIQUE (user_id, id),
        CONSTRAINT ck_lists_user_id_not_blank CHECK (btrim(user_id) <> ''),
        CONSTRAINT ck_lists_name_not_blank CHECK (btrim(name) <> ''),
        CONSTRAINT ck_lists_version_positive CHECK (version >= 1)
      )`);
    await queryRunner.query(
      `CREATE INDEX ix_lists_user_id ON lists (user_id, created_at DESC, id DESC)`,
    );
    await queryRunner.query(`CREATE INDEX ix_lists_user_id_name ON lists (user_id, name, id)`);
    await queryRunner.query(`
      CREATE FUNCTION set_lists_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.updated_at := now();
        RETURN NEW;
      END
      $$`);
    await queryRunner.query(`
      CREATE TRIGGER update_lists_updated_at
        BEFORE UPDATE ON lists
        FOR EACH ROW EXECUTE FUNCTION set_lists_updated_at()`);

    await queryRunner.query(`ALTER TABLE tasks ADD COLUMN list_id uuid NULL`);
    await queryRunner.query(`
      ALTER TABLE tasks ADD CONSTRAINT fk_tasks_list
        FOREIGN KEY (user_id, list_id) REFERENCES lists (user_id, id) ON DELETE CASCADE`);
    await queryRunner.query(
      `CREATE INDEX IF NOT EXISTS ix_tasks_user_id_list_id ON tasks (user_id, list_id, created_at DESC, id DESC)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX ix_tasks_user_id_list_id`);
    await queryRunner.query(`ALTER TABLE tasks DROP COLUMN list_id`);
    await queryRunner.query(`DROP TABLE lists`);
    await queryRunner.query(`DROP FUNCTION set_lists_updated_at()`);
  }
}
