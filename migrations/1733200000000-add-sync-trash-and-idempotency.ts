import { MigrationInterface, QueryRunner } from 'typeorm';

/** The live-list indexes of the earlier migrations; each becomes partial on live rows. */
const LIVE_INDEXES = [
  ['ix_tasks_user_id', '(user_id, created_at DESC, id DESC)'],
  ['ix_tasks_user_id_updated_at', '(user_id, updated_at DESC, id DESC)'],
  ['ix_tasks_user_id_title', '(user_id, title, id)'],
  ['ix_tasks_user_id_list_id', '(user_id, list_id, created_at DESC, id DESC)'],
] as const;

/**
 * What the changes feed, the trash and idempotent creates need (specification §9–§11), for tasks.
 * Design and statements: docs/sync.md.
 *
 * - `change_xid`: the transaction that last wrote the row, stamped by a trigger, so the feed can
 *   be ordered by something commit-safe. A `bigint` (the value of `pg_current_xact_id()`, an
 *   epoch-extended 64-bit id that never wraps) rather than `xid8`, which TypeORM cannot declare.
 * - `tombstones`: one row per owned row deleted for good (purge, a cascade), written by an
 *   AFTER DELETE trigger, so every way of deleting is reported; generic over the table.
 * - `sync_horizons`: up to which transaction tombstones have been purged; an older token is
 *   expired.
 * - `deleted_at`: the trash. The live-list indexes become partial (WHERE deleted_at IS NULL) under
 *   the same names, so live reads cost what they did; the trash has an index of its own.
 * - `idempotency_keys`: a create's key, request hash and response, stored by the create's own
 *   statement.
 */
export class AddSyncTrashAndIdempotency1733200000000 implements MigrationInterface {
  name = 'AddSyncTrashAndIdempotency1733200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // A constant default adds the column without rewriting the table; existing rows get 0, before
    // any token this service can have issued.
    await queryRunner.query(`
      ALTER TABLE tasks
        ADD COLUMN deleted_at timestamptz(3) NULL,
        ADD COLUMN change_xid bigint NOT NULL DEFAULT 0`);
    await queryRunner.query(`
      CREATE FUNCTION stamp_change_xid() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.change_xid := pg_current_xact_id()::text::bigint;
        RETURN NEW;
      END
      $$`);
    await queryRunner.query(`
      CREATE TRIGGER stamp_tasks_change_xid
        BEFORE INSERT OR UPDATE ON tasks
        FOR EACH ROW EXECUTE FUNCTION stamp_change_xid()`);
    await queryRunner.query(
      `CREATE INDEX ix_tasks_user_id_change_xid ON tasks (user_id, change_xid, id)`,
    );

    for (const [name, columns] of LIVE_INDEXES) {
      await queryRunner.query(`DROP INDEX ${name}`);
      await queryRunner.query(`CREATE INDEX ${name} ON tasks ${columns} WHERE deleted_at IS NULL`);
    }
    await queryRunner.query(`
      CREATE INDEX ix_tasks_trash ON tasks (user_id, deleted_at DESC, id DESC)
        WHERE deleted_at IS NOT NULL`);
    // The purge job looks across owners, oldest first.
    await queryRunner.query(
      `CREATE INDEX ix_tasks_trash_purge ON tasks (deleted_at) WHERE deleted_at IS NOT NULL`,
    );

    await queryRunner.query(`
      CREATE TABLE tombstones (
        user_id varchar(255) NOT NULL,
        resource varchar(63) NOT NULL,
        id uuid NOT NULL,
        change_xid bigint NOT NULL,
        deleted_at timestamptz(3) NOT NULL DEFAULT now(),
        CONSTRAINT pk_tombstones PRIMARY KEY (user_id, resource, id)
      )`);
    await queryRunner.query(
      `CREATE INDEX ix_tombstones_feed ON tombstones (user_id, resource, change_xid, id)`,
    );
    await queryRunner.query(`CREATE INDEX ix_tombstones_purge ON tombstones (deleted_at)`);
    // The resource is the table's name; a row deleted, re-created under its id and deleted again
    // keeps one tombstone, of the last deletion.
    await queryRunner.query(`
      CREATE FUNCTION record_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO tombstones (user_id, resource, id, change_xid)
        VALUES (OLD.user_id, TG_TABLE_NAME, OLD.id, pg_current_xact_id()::text::bigint)
        ON CONFLICT (user_id, resource, id)
          DO UPDATE SET change_xid = EXCLUDED.change_xid, deleted_at = EXCLUDED.deleted_at;
        RETURN NULL;
      END
      $$`);
    await queryRunner.query(`
      CREATE TRIGGER record_tasks_tombstone
        AFTER DELETE ON tasks
        FOR EACH ROW EXECUTE FUNCTION record_tombstone()`);
    await queryRunner.query(`
      CREATE TABLE sync_horizons (
        resource varchar(63) NOT NULL,
        purged_through bigint NOT NULL,
        CONSTRAINT pk_sync_horizons PRIMARY KEY (resource)
      )`);

    await queryRunner.query(`
      CREATE TABLE idempotency_keys (
        user_id varchar(255) NOT NULL,
        key varchar(255) NOT NULL,
        request_hash char(64) NOT NULL,
        resource_path text NOT NULL,
        status smallint NOT NULL,
        response jsonb NOT NULL,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        expires_at timestamptz(3) NOT NULL,
        CONSTRAINT pk_idempotency_keys PRIMARY KEY (user_id, key),
        CONSTRAINT ck_idempotency_keys_key CHECK (key ~ '^[\\x20-\\x7e]{1,255}$'),
        CONSTRAINT ck_idempotency_keys_request_hash CHECK (request_hash ~ '^[0-9a-f]{64}$')
      )`);
    await queryRunner.query(
      `CREATE INDEX ix_idempotency_keys_expires_at ON idempotency_keys (expires_at)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE idempotency_keys`);
    await queryRunner.query(`DROP TABLE sync_horizons`);
    await queryRunner.query(`DROP TRIGGER record_tasks_tombstone ON tasks`);
    await queryRunner.query(`DROP FUNCTION record_tombstone()`);
    await queryRunner.query(`DROP TABLE tombstones`);
    await queryRunner.query(`DROP INDEX ix_tasks_trash_purge`);
    await queryRunner.query(`DROP INDEX ix_tasks_trash`);
    for (const [name, columns] of LIVE_INDEXES) {
      await queryRunner.query(`DROP INDEX ${name}`);
      await queryRunner.query(`CREATE INDEX ${name} ON tasks ${columns}`);
    }
    await queryRunner.query(`DROP INDEX ix_tasks_user_id_change_xid`);
    await queryRunner.query(`DROP TRIGGER stamp_tasks_change_xid ON tasks`);
    await queryRunner.query(`DROP FUNCTION stamp_change_xid()`);
    // Trashed rows would come back to life without their column: they are gone for good.
    await queryRunner.query(`DELETE FROM tasks WHERE deleted_at IS NOT NULL`);
    await queryRunner.query(`ALTER TABLE tasks DROP COLUMN deleted_at, DROP COLUMN change_xid`);
  }
}
