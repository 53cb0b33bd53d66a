import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The changes feed for lists (specification §10): lists carry the writing transaction and leave
 * a tombstone when deleted, with the functions of AddSyncTrashAndIdempotency1733200000000.
 * Deleting a list deletes its tasks for good (the tasks' foreign key cascades); the tasks' own
 * delete trigger leaves their tombstones in the same transaction, so both feeds report it.
 * Runs after the migration that creates `lists`.
 */
export class AddListSync1733300000000 implements MigrationInterface {
  name = 'AddListSync1733300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const [{ present }] = (await queryRunner.query(
      `SELECT to_regclass('lists') IS NOT NULL AS present`,
    )) as { present: boolean }[];
    if (!present)
      throw new Error(
        'AddListSync1733300000000 needs the lists table: run it after the lists migration',
      );
    await queryRunner.query(`ALTER TABLE lists ADD COLUMN change_xid bigint NOT NULL DEFAULT 0`);
    await queryRunner.query(`
      CREATE TRIGGER stamp_lists_change_xid
        BEFORE INSERT OR UPDATE ON lists
        FOR EACH ROW EXECUTE FUNCTION stamp_change_xid()`);
    await queryRunner.query(
      `CREATE INDEX ix_lists_user_id_change_xid ON lists (user_id, change_xid, id)`,
    );
    await queryRunner.query(`
      CREATE TRIGGER record_lists_tombstone
        AFTER DELETE ON lists
        FOR EACH ROW EXECUTE FUNCTION record_tombstone()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER record_lists_tombstone ON lists`);
    await queryRunner.query(`DELETE FROM tombstones WHERE resource = 'lists'`);
    await queryRunner.query(`DELETE FROM sync_horizons WHERE resource = 'lists'`);
    await queryRunner.query(`DROP INDEX ix_lists_user_id_change_xid`);
    await queryRunner.query(`DROP TRIGGER stamp_lists_change_xid ON lists`);
    await queryRunner.query(`ALTER TABLE lists DROP COLUMN change_xid`);
  }
}
