import { Check, Column, Entity, Index, PrimaryGeneratedColumn, Unique } from 'typeorm';
import type { IsoTimestamp } from '../database/iso-timestamp';

/**
 * The `lists` table (specification §8). The schema is owned by the migrations in `migrations/`;
 * indexes and checks are declared here only so that `migration:generate` sees the schema as it is.
 * `(user_id, id)` is unique so that `tasks (user_id, list_id)` can reference it.
 */
@Entity({ name: 'lists' })
@Unique('uq_lists_user_id_id', ['userId', 'id'])
@Index('ix_lists_user_id', { synchronize: false })
@Index('ix_lists_user_id_name', { synchronize: false })
@Index('ix_lists_user_id_change_xid', { synchronize: false })
@Check('ck_lists_user_id_not_blank', `btrim((user_id)::text) <> ''::text`)
@Check('ck_lists_name_not_blank', `btrim((name)::text) <> ''::text`)
@Check('ck_lists_version_positive', `version >= 1`)
export class List {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 255 })
  userId!: string;

  @Column({ type: 'varchar', length: 255 })
  name!: string;

  @Column({ type: 'integer', default: 1 })
  version!: number;

  @Column({ name: 'created_at', type: 'timestamptz', precision: 3, default: () => 'now()' })
  createdAt!: IsoTimestamp;

  @Column({ name: 'updated_at', type: 'timestamptz', precision: 3, default: () => 'now()' })
  updatedAt!: IsoTimestamp;

  /** The transaction that last wrote the row, stamped by a trigger: the changes feed's order
   * (specification §10, docs/sync.md). Never selected with the list. */
  @Column({ name: 'change_xid', type: 'bigint', default: 0, select: false })
  changeXid?: string;
}
