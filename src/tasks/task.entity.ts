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

/** A task's priority, lowest first: the database enum sorts in this order. */
export const TASK_PRIORITIES = ['none', 'low', 'medium', 'high'] as const;
export type TaskPriority = (typeof TASK_PRIORITIES)[number];

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
@Index('ix_tasks_user_id_priority', { synchronize: false })
@Index('ix_tasks_user_id_due', { synchronize: false })
@Index('ix_tasks_user_id_due_desc', { synchronize: false })
@Index('ix_tasks_tags', { synchronize: false })
@Index('ix_tasks_search', { synchronize: false })
@Index('ux_tasks_previous_id', { synchronize: false })
@Index('ix_tasks_reminders_due', { synchronize: false })
@Check('ck_tasks_user_id_not_blank', `btrim((user_id)::text) <> ''::text`)
@Check('ck_tasks_title_not_blank', `btrim((title)::text) <> ''::text`)
@Check('ck_tasks_description_length', `char_length(description) <= 10000`)
@Check('ck_tasks_version_positive', `version >= 1`)
@Check('ck_tasks_due_time_needs_date', `due_time IS NULL OR due_date IS NOT NULL`)
@Check('ck_tasks_time_zone_with_time', `(due_time IS NULL) = (time_zone IS NULL)`)
@Check('ck_tasks_tags_count', `cardinality(tags) <= 20`)
@Check('ck_tasks_recurrence_needs_due_date', `recurrence IS NULL OR due_date IS NOT NULL`)
@Check('ck_tasks_recurrence_schedule', `(recurrence IS NULL) = (upcoming IS NULL)`)
@Check(
  'ck_tasks_recurrence_count',
  `recurrence_count IS NULL OR (recurrence IS NOT NULL AND recurrence_count >= 1)`,
)
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

  @Column({ type: 'enum', enum: TASK_PRIORITIES, enumName: 'task_priority', default: 'none' })
  priority!: TaskPriority;

  /** The day the task is due, `YYYY-MM-DD` (the driver leaves dates as text: database-options). */
  @Column({ name: 'due_date', type: 'date', nullable: true })
  dueDate!: string | null;

  /** The wall time it is due on that day, `HH:MM:SS` from the driver; only with a date. */
  @Column({ name: 'due_time', type: 'time', precision: 0, nullable: true })
  dueTime!: string | null;

  /** The IANA zone of that wall time; set exactly when `dueTime` is. */
  @Column({ name: 'time_zone', type: 'text', nullable: true })
  timeZone!: string | null;

  /**
   * The instant of that wall time in that zone, null for an all-day task. Written by the
   * `set_tasks_derived_columns` trigger (migrations/1733400000000-organise-tasks.ts).
   */
  @Column({ name: 'due_at', type: 'timestamptz', precision: 3, nullable: true })
  dueAt!: IsoTimestamp | null;

  /** Tag names, deduplicated case-insensitively, in case-insensitive order. */
  @Column({ type: 'text', array: true, default: () => "'{}'" })
  tags!: string[];

  /**
   * The RFC 5545 rule the task repeats by, without its COUNT (docs/recurrence.md); null: once.
   */
  @Column({ type: 'varchar', length: 500, nullable: true })
  recurrence!: string | null;

  /** The rule's COUNT: the occurrences left, this one included; null without one. */
  @Column({ name: 'recurrence_count', type: 'integer', nullable: true })
  recurrenceCount!: number | null;

  /**
   * The next occurrences' wall times (`YYYY-MM-DD HH:MM:SS`) computed when the schedule was
   * written, `infinity` last when the rule goes on; a completion copies the first. Never selected.
   */
  @Column({ type: 'timestamp', array: true, nullable: true, select: false })
  upcoming?: string[] | null;

  /** The occurrence that completing this task created; read-only. */
  @Column({ name: 'next_id', type: 'uuid', nullable: true })
  nextId!: string | null;

  /** The task whose completion created this one: one per task (ux_tasks_previous_id). */
  @Column({ name: 'previous_id', type: 'uuid', nullable: true, select: false })
  previousId?: string | null;

  /**
   * The full-text document of title (weight A) and description (B), written by the
   * `set_tasks_derived_columns` trigger. Never selected.
   */
  @Column({ type: 'tsvector', select: false, insert: false, update: false })
  search?: string;

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
