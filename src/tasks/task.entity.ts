import {
  Check,
  Column,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
} from 'typeorm';
import { List } from '../lists/list.entity';
import type { IsoTimestamp } from '../database/iso-timestamp';

/**
 * The `tasks` table (specification §1). The schema itself is owned by the migrations in
 * `migrations/`; the indexes and checks are declared here only so that `migration:generate`
 * sees the schema as it is (the indexes' DESC columns are beyond TypeORM, hence synchronize off).
 */
@Entity({ name: 'tasks' })
@Index('ix_tasks_user_id', { synchronize: false })
@Index('ix_tasks_user_id_updated_at', { synchronize: false })
@Index('ix_tasks_user_id_title', { synchronize: false })
@Index('ix_tasks_user_id_list_id', { synchronize: false })
@Index('ix_tasks_user_id_change_xid', { synchronize: false })
@Index('ix_tasks_trash', { synchronize: false })
@Index('ix_tasks_trash_purge', { synchronize: false })
@Index('ix_tasks_reminders_due', { synchronize: false })
@Check('ck_tasks_user_id_not_blank', `btrim((user_id)::text) <> ''::text`)
@Check('ck_tasks_title_not_blank', `btrim((title)::text) <> ''::text`)
@Check('ck_tasks_description_length', `char_length(description) <= 10000`)
@Check('ck_tasks_version_positive', `version >= 1`)
export class Task {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 255 })
  userId!: string;

  @Column({ type: 'varchar', length: 255 })
  title!: string;

  @Column({ type: 'text', nullable: true })
  description!: string | null;

  @Column({ type: 'boolean', default: false })
  completed!: boolean;

  /** The task's list, or null (specification §8). */
  @Column({ name: 'list_id', type: 'uuid', nullable: true })
  listId!: string | null;

  /**
   * Declared for the foreign key only (`migration:generate` compares it): the key is on
   * `(user_id, list_id)`, so a task can only be in a list of its own owner. Never loaded.
   */
  @ManyToOne(() => List, { onDelete: 'CASCADE' })
  @JoinColumn([
    { name: 'user_id', referencedColumnName: 'userId', foreignKeyConstraintName: 'fk_tasks_list' },
    { name: 'list_id', referencedColumnName: 'id' },
  ])
  list?: List;

  @Column({ type: 'integer', default: 1 })
  version!: number;

  @Column({ name: 'created_at', type: 'timestamptz', precision: 3, default: () => 'now()' })
  createdAt!: IsoTimestamp;

  @Column({ name: 'updated_at', type: 'timestamptz', precision: 3, default: () => 'now()' })
  updatedAt!: IsoTimestamp;

  /** When the task was moved to the trash; null while it is live (specification §11). */
  @Column({ name: 'deleted_at', type: 'timestamptz', precision: 3, nullable: true })
  deletedAt!: IsoTimestamp | null;

  /** When to remind the owner (specification §15); null: no reminder. */
  @Column({ name: 'remind_at', type: 'timestamptz', precision: 3, nullable: true })
  remindAt!: IsoTimestamp | null;

  /**
   * When a replica claimed the reminder; null while it is armed. Set only by the reminder job
   * (docs/events.md), reset by a trigger when `remind_at` changes. Never selected with the task.
   */
  @Column({ name: 'reminded_at', type: 'timestamptz', precision: 3, nullable: true, select: false })
  remindedAt?: IsoTimestamp | null;

  /**
   * The transaction that last wrote the row, stamped by a trigger: the changes feed's order
   * (specification §10, docs/sync.md). Never selected with the task.
   */
  @Column({ name: 'change_xid', type: 'bigint', default: 0, select: false })
  changeXid?: string;
}
