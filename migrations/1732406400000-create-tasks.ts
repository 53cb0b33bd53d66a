import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The `tasks` table of specification §1. Timestamps keep millisecond precision, the precision of the
 * wire format, so that a keyset cursor built from a returned timestamp matches the stored value.
 * Every index leads with `user_id`: each query is scoped to one owner, and the table stays
 * distributable on that column.
 */
export class CreateTasks1732406400000 implements MigrationInterface {
  name = 'CreateTasks1732406400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE tasks (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        user_id varchar(255) NOT NULL,
        title varchar(255) NOT NULL,
        description text NULL,
        completed boolean NOT NULL DEFAULT false,
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now(),
        CONSTRAINT pk_tasks PRIMARY KEY (id),
        CONSTRAINT ck_tasks_user_id_not_blank CHECK (btrim(user_id) <> ''),
        CONSTRAINT ck_tasks_title_not_blank CHECK (btrim(title) <> ''),
        CONSTRAINT ck_tasks_description_length CHECK (char_length(description) <= 10000),
        CONSTRAINT ck_tasks_version_positive CHECK (version >= 1)
      )`);
    await queryRunner.query(
      `CREATE INDEX ix_tasks_user_id ON tasks (user_id, created_at DESC, id DESC)`,
    );
    await queryRunner.query(
      `CREATE INDEX ix_tasks_user_id_updated_at ON tasks (user_id, updated_at DESC, id DESC)`,
    );
    await queryRunner.query(`CREATE INDEX ix_tasks_user_id_title ON tasks (user_id, title, id)`);
    await queryRunner.query(`
      CREATE FUNCTION set_tasks_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.updated_at := now();
        RETURN NEW;
      END
      $$`);
    await queryRunner.query(`
      CREATE TRIGGER update_tasks_updated_at
        BEFORE UPDATE ON tasks
        FOR EACH ROW EXECUTE FUNCTION set_tasks_updated_at()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE tasks`);
    await queryRunner.query(`DROP FUNCTION set_tasks_updated_at()`);
  }
}
