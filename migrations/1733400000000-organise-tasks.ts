import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Organising tasks (docs/specification.md, "Organising tasks"; design in docs/organising.md):
 * priority, a due date with an optional wall time in an IANA zone, tags, search, and the indexes
 * that serve their filters and sorts. Every list index is partial on live rows and leads with
 * `user_id`, like those of the earlier migrations.
 *
 * - `priority`: an enum, whose declared order is its sort order (`-priority` = high first).
 * - `due_at`: the instant of `due_date` + `due_time` in `time_zone`, written by a trigger on every
 *   insert or update of those from PostgreSQL's own zone database, so that every write (a partial update
 *   of the time alone, a bulk change) keeps it true in the same statement. A wall time that does
 *   not exist (a DST gap) is refused; an ambiguous one (a DST overlap) is the earlier instant.
 * - `tags`: a `text[]` on the task, kept deduplicated and in case-insensitive order; filtered
 *   through a GIN index on the lower-cased names (with `user_id`, by btree_gin).
 * - `search`: the `tsvector` of the unaccented title (weight A) and description (B), written by
 *   the same trigger, with a GIN index (with `user_id`). Filling it rewrites the table once.
 */
export class OrganiseTasks1733400000000 implements MigrationInterface {
  name = 'OrganiseTasks1733400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // Both are trusted extensions (PostgreSQL 13+): a database owner may create them; Neon has both.
    await queryRunner.query(`CREATE EXTENSION IF NOT EXISTS unaccent`);
    await queryRunner.query(`CREATE EXTENSION IF NOT EXISTS btree_gin`);

    await queryRunner.query(`CREATE TYPE task_priority AS ENUM ('none', 'low', 'medium', 'high')`);

    // unaccent() is STABLE (its dictionary could change); a generated column and an index need
    // an IMMUTABLE function, so this wrapper names the dictionary and promises that it won't.
    await queryRunner.query(`
      CREATE FUNCTION task_search_unaccent(text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
        AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$`);
    // The search document: the unaccented title (weight A, first in relevance) and description.
    await queryRunner.query(`
      CREATE FUNCTION task_search_document(title text, description text) RETURNS tsvector
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$
          SELECT setweight(to_tsvector('simple', task_search_unaccent(title)), 'A') ||
                 setweight(to_tsvector('simple', task_search_unaccent(COALESCE(description, ''))), 'B')
        $$`);
    // The search query of a list of plain words: each word quoted as a lexeme (so tsquery
    // operators in it are only characters), all of them required, the last one as a prefix;
    // `title_only` restricts each to the title's weight (A), for relevance.
    await queryRunner.query(`
      CREATE FUNCTION task_search_query(words text[], title_only boolean) RETURNS tsquery
        LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
        AS $$
          SELECT to_tsquery('simple', string_agg(
                   '''' || replace(replace(task_search_unaccent(word), '\\', '\\\\'), '''', '''''')
                   || '''' || CASE WHEN n = cardinality(words) OR title_only
                                   THEN ':' || CASE WHEN n = cardinality(words) THEN '*' ELSE '' END
                                            || CASE WHEN title_only THEN 'A' ELSE '' END
                                   ELSE '' END,
                   ' & ' ORDER BY n))
            FROM unnest(words) WITH ORDINALITY AS w(word, n)
        $$`);

    // Tags: the lower-cased names (what matching compares), and a tag list deduplicated by
    // those (the first spelling of each wins) in case-insensitive order.
    await queryRunner.query(`
      CREATE FUNCTION task_tag_keys(tags text[]) RETURNS text[]
        LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
        AS $$ SELECT COALESCE(array_agg(lower(tag) ORDER BY n), '{}') FROM unnest(tags) WITH ORDINALITY AS t(tag, n) $$`);
    await queryRunner.query(`
      CREATE FUNCTION task_tags_sorted(tags text[]) RETURNS text[]
        LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
        AS $$
          SELECT COALESCE(array_agg(tag ORDER BY lower(tag), tag), '{}')
            FROM (SELECT DISTINCT ON (lower(tag)) tag
                    FROM unnest(tags) WITH ORDINALITY AS t(tag, n)
                   ORDER BY lower(tag), n) AS first_spellings
        $$`);
    // The instant of a wall time in a zone, from PostgreSQL's zone database. The two offsets in
    // force a day before and a day after give the candidates; those that read back as the same
    // wall time are real: two in an overlap (the earlier wins), none in a gap (refused).
    await queryRunner.query(`
      CREATE FUNCTION task_due_at(due_date date, due_time time, zone text) RETURNS timestamptz
        LANGUAGE plpgsql STABLE
        AS $$
        DECLARE
          wall timestamp := due_date + due_time;
          earlier timestamptz;
          later timestamptz;
        BEGIN
          IF due_date IS NULL OR due_time IS NULL OR zone IS NULL THEN
            RETURN NULL;
          END IF;
          BEGIN
            earlier := ((wall - interval '24 hours') AT TIME ZONE zone) + interval '24 hours';
            later := ((wall + interval '24 hours') AT TIME ZONE zone) - interval '24 hours';
          EXCEPTION WHEN invalid_parameter_value THEN
            RAISE EXCEPTION 'unknown time zone' USING
              ERRCODE = 'check_violation', CONSTRAINT = 'ck_tasks_time_zone_known';
          END;
          IF (earlier AT TIME ZONE zone) = wall THEN
            RETURN earlier;
          ELSIF (later AT TIME ZONE zone) = wall THEN
            RETURN later;
          END IF;
          RAISE EXCEPTION 'this wall time does not exist in this zone' USING
            ERRCODE = 'check_violation', CONSTRAINT = 'ck_tasks_due_time_exists';
        END
        $$`);
    // The columns derived from others, on every write that changes those (a trigger rather than
    // a generated column: due_at reads the zone database, which is not immutable).
    await queryRunner.query(`
      CREATE FUNCTION set_task_derived_columns() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' OR NEW.due_date IS DISTINCT FROM OLD.due_date
           OR NEW.due_time IS DISTINCT FROM OLD.due_time
           OR NEW.time_zone IS DISTINCT FROM OLD.time_zone THEN
          NEW.due_at := task_due_at(NEW.due_date, NEW.due_time, NEW.time_zone);
        END IF;
        IF TG_OP = 'INSERT' OR NEW.title IS DISTINCT FROM OLD.title
           OR NEW.description IS DISTINCT FROM OLD.description THEN
          NEW.search := task_search_document(NEW.title, NEW.description);
        END IF;
        RETURN NEW;
      END
      $$`);
    await queryRunner.query(`
      ALTER TABLE tasks
        ADD COLUMN priority task_priority NOT NULL DEFAULT 'none',
        ADD COLUMN due_date date NULL,
        ADD COLUMN due_time time(0) NULL,
        ADD COLUMN time_zone text NULL,
        ADD COLUMN due_at timestamptz(3) NULL,
        ADD COLUMN tags text[] NOT NULL DEFAULT '{}',
        ADD COLUMN search tsvector NULL,
        ADD CONSTRAINT ck_tasks_due_time_needs_date CHECK (due_time IS NULL OR due_date IS NOT NULL),
        ADD CONSTRAINT ck_tasks_time_zone_with_time CHECK ((due_time IS NULL) = (time_zone IS NULL)),
        ADD CONSTRAINT ck_tasks_tags_count CHECK (cardinality(tags) <= 20)`);
    // The tags of a write as the owner spells them: a name one of the owner's live tasks already
    // carries (in any case) takes that task's spelling, so "work" added after "Work" is "Work".
    // Created after the columns, which its body reads.
    await queryRunner.query(`
      CREATE FUNCTION task_tags_spelled(owner varchar, tags text[]) RETURNS text[]
        LANGUAGE sql STABLE PARALLEL SAFE STRICT
        AS $$
          SELECT task_tags_sorted(COALESCE(array_agg(COALESCE((
                   SELECT spelled FROM tasks other, unnest(other.tags) AS spelled
                    WHERE other.user_id = owner AND other.deleted_at IS NULL
                      AND task_tag_keys(other.tags) @> ARRAY[lower(given.tag)]
                      AND lower(spelled) = lower(given.tag)
                    LIMIT 1), given.tag) ORDER BY given.n), '{}'))
            FROM unnest(tags) WITH ORDINALITY AS given(tag, n)
        $$`);

    await queryRunner.query(`UPDATE tasks SET search = task_search_document(title, description)`);
    await queryRunner.query(`ALTER TABLE tasks ALTER COLUMN search SET NOT NULL`);
    await queryRunner.query(`
      CREATE TRIGGER set_tasks_derived_columns
        BEFORE INSERT OR UPDATE OF due_date, due_time, time_zone, title, description ON tasks
        FOR EACH ROW EXECUTE FUNCTION set_task_derived_columns()`);

    // The sorts: priority, and due in each direction (no due date last both ways, so the
    // sentinels differ; all-day, with no due_at, after the timed tasks of its date ascending).
    await queryRunner.query(`
      CREATE INDEX ix_tasks_user_id_priority ON tasks (user_id, priority, id)
        WHERE deleted_at IS NULL`);
    await queryRunner.query(`
      CREATE INDEX ix_tasks_user_id_due ON tasks
        (user_id, COALESCE(due_date, 'infinity'::date), COALESCE(due_at, 'infinity'::timestamptz), id)
        WHERE deleted_at IS NULL`);
    await queryRunner.query(`
      CREATE INDEX ix_tasks_user_id_due_desc ON tasks
        (user_id, COALESCE(due_date, '-infinity'::date), COALESCE(due_at, 'infinity'::timestamptz), id)
        WHERE deleted_at IS NULL`);
    // The filters that an ordered index cannot serve: tags and search.
    await queryRunner.query(`
      CREATE INDEX ix_tasks_tags ON tasks USING gin (user_id, task_tag_keys(tags))
        WHERE deleted_at IS NULL`);
    await queryRunner.query(`
      CREATE INDEX ix_tasks_search ON tasks USING gin (user_id, search)
        WHERE deleted_at IS NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const index of [
      'ix_tasks_search',
      'ix_tasks_tags',
      'ix_tasks_user_id_due_desc',
      'ix_tasks_user_id_due',
      'ix_tasks_user_id_priority',
    ]) {
      await queryRunner.query(`DROP INDEX ${index}`);
    }
    await queryRunner.query(`DROP TRIGGER set_tasks_derived_columns ON tasks`);
    await queryRunner.query(`
      ALTER TABLE tasks
        DROP COLUMN search, DROP COLUMN tags, DROP COLUMN due_at, DROP COLUMN time_zone,
        DROP COLUMN due_time, DROP COLUMN due_date, DROP COLUMN priority`);
    await queryRunner.query(`DROP FUNCTION set_task_derived_columns()`);
    await queryRunner.query(`DROP FUNCTION task_search_document(text, text)`);
    await queryRunner.query(`DROP FUNCTION task_due_at(date, time, text)`);
    await queryRunner.query(`DROP FUNCTION task_tags_spelled(varchar, text[])`);
    await queryRunner.query(`DROP FUNCTION task_tags_sorted(text[])`);
    await queryRunner.query(`DROP FUNCTION task_tag_keys(text[])`);
    await queryRunner.query(`DROP FUNCTION task_search_query(text[], boolean)`);
    await queryRunner.query(`DROP FUNCTION task_search_unaccent(text)`);
    await queryRunner.query(`DROP TYPE task_priority`);
    // The extensions stay: other schemas or objects of the database may use them.
  }
}
