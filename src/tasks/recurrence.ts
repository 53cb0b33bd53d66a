import { createContext, Script } from 'node:vm';
import { Frequency, type Options, RRule } from 'rrule';
import { Temporal } from 'temporal-polyfill';

/**
 * Recurring tasks (docs/specification.md, "Recurring tasks"; design in docs/recurrence.md): an
 * RFC 5545 rule, parsed and expanded by `rrule`, with the zone arithmetic by Temporal.
 *
 * The rule is expanded in "floating" time: the due date and wall time are handed to `rrule` as if
 * they were UTC, so every occurrence keeps the wall time (09:00 stays 09:00 across a DST change)
 * and a month end stays a month end. Only then is each wall time placed in the task's zone, where
 * a time that does not exist that day (a DST gap) moves forward by the gap, as RFC 5545 says.
 */

/** A rule that cannot be used: answered as 400 on `recurrence`. */
export class RecurrenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecurrenceError';
  }
}

/** A rule as stored: its text without `COUNT`, and the occurrences left (this one included). */
export interface Recurrence {
  rule: string;
  count: number | null;
}

/** The due values a rule is expanded from: a date, and a wall time in a zone or none (all day). */
export interface DueSchedule {
  dueDate: string;
  dueTime: string | null;
  timeZone: string | null;
}

export const RECURRENCE_MAX_LENGTH = 500;

/**
 * How many occurrences are computed ahead, each time a schedule is written. Completing a task
 * takes the next one from this list in SQL; when a completion leaves its successor fewer than
 * `UPCOMING_REFILL_BELOW`, the list is computed again (see tasks.repository.ts).
 */
export const UPCOMING_LIMIT = 60;
export const UPCOMING_REFILL_BELOW = 10;

/** Ends the list of a rule that goes on past it (PostgreSQL's `timestamp` reads it). */
export const MORE_OCCURRENCES = 'infinity';

/**
 * How far ahead a list looks, by frequency, so that a rule whose occurrences are sparse (every
 * 29 February of a daily rule) costs a bounded number of steps of `rrule`.
 */
const HORIZON_YEARS: Record<number, number> = {
  [Frequency.DAILY]: 5,
  [Frequency.WEEKLY]: 20,
  [Frequency.MONTHLY]: 100,
  [Frequency.YEARLY]: 400,
};

/**
 * `rrule` stops at the first occurrence past `UNTIL`, but a rule that never matches (the 30th of
 * February) has none, and then it steps day by day to the year 9999: about a minute of CPU. Each
 * expansion runs under a V8 time limit instead. A real rule takes milliseconds (150 ms for the
 * first, cold, at a load average of 19), so the limit only stops rules that never match.
 */
const EXPANSION_TIMEOUT_MS = 2_000;
const sandbox = createContext({ expansion: null });
const runExpansion = new Script('expansion()');

/** An expansion stopped by the time limit: the rule never matches, or hardly ever. */
export class ExpansionTimeoutError extends Error {
  constructor() {
    super('the recurrence rule took too long to expand');
    this.name = 'ExpansionTimeoutError';
  }
}

function bounded<T>(expansion: () => T): T {
  sandbox.expansion = expansion;
  try {
    return runExpansion.runInContext(sandbox, { timeout: EXPANSION_TIMEOUT_MS }) as T;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
      throw new ExpansionTimeoutError();
    }
    throw error;
  } finally {
    sandbox.expansion = null;
  }
}

const DAY = '(MO|TU|WE|TH|FR|SA|SU)';
const listOf = (item: string): RegExp => new RegExp(`^${item}(,${item})*$`);

/**
 * The parts a rule may have, each with the RFC 5545 grammar of its value and the largest
 * magnitude of its numbers. No BYHOUR, BYMINUTE or BYSECOND and nothing more often than daily:
 * an occurrence keeps the task's time.
 */
const PARTS: Record<string, { value: RegExp; max?: number }> = {
  FREQ: { value: /^(DAILY|WEEKLY|MONTHLY|YEARLY)$/ },
  INTERVAL: { value: /^[1-9]\d{0,3}$/ },
  COUNT: { value: /^[1-9]\d{0,4}$/ },
  UNTIL: { value: /^\d{8}(T\d{6}Z?)?$/ },
  BYDAY: { value: listOf(`([+-]?[1-9]\\d?)?${DAY}`), max: 53 },
  BYMONTHDAY: { value: listOf('[+-]?[1-9]\\d?'), max: 31 },
  BYYEARDAY: { value: listOf('[+-]?[1-9]\\d{0,2}'), max: 366 },
  BYWEEKNO: { value: listOf('[+-]?[1-9]\\d?'), max: 53 },
  BYMONTH: { value: listOf('[1-9]\\d?'), max: 12 },
  BYSETPOS: { value: listOf('[+-]?[1-9]\\d{0,2}'), max: 366 },
  WKST: { value: new RegExp(`^${DAY}$`) },
};

const TIME_PARTS = ['BYHOUR', 'BYMINUTE', 'BYSECOND'];
const EXAMPLE = 'such as FREQ=WEEKLY;BYDAY=MO,WE (without "RRULE:")';

/**
 * Checks a rule's text and splits off its `COUNT`. The text is checked part by part against the
 * grammar of RFC 5545 (`rrule` itself accepts `FREQ=FOO` or `COUNT=abc` and expands nonsense);
 * `rrule` then parses it. Parts keep the caller's order; names and values are upper-cased.
 */
export function parseRecurrence(text: string): Recurrence {
  if (text.length > RECURRENCE_MAX_LENGTH) {
    throw new RecurrenceError(`recurrence must be at most ${RECURRENCE_MAX_LENGTH} characters`);
  }
  const parts = text
    .trim()
    .toUpperCase()
    .split(';')
    .map((part) => part.split('='));
  const seen = new Set<string>();
  for (const part of parts) {
    const [name, value] = part;
    const grammar = PARTS[name];
    if (part.length !== 2 || !grammar) {
      throw new RecurrenceError(
        TIME_PARTS.includes(name)
          ? `recurrence keeps the task's due_time: ${name} is not supported`
          : `recurrence must be an RFC 5545 rule ${EXAMPLE}; "${part.join('=')}" is not one of its parts`,
      );
    }
    const numbers = value.match(/\d+/g) ?? [];
    if (
      !grammar.value.test(value) ||
      (grammar.max !== undefined && numbers.some((number) => Number(number) > grammar.max!))
    ) {
      throw new RecurrenceError(
        name === 'FREQ'
          ? 'recurrence repeats DAILY, WEEKLY, MONTHLY or YEARLY: the task keeps its time'
          : `recurrence: ${name}=${value} is not a valid value of ${name}`,
      );
    }
    if (seen.has(name)) throw new RecurrenceError(`recurrence has ${name} twice`);
    seen.add(name);
  }
  if (!seen.has('FREQ')) throw new RecurrenceError(`recurrence needs a FREQ, ${EXAMPLE}`);
  if (seen.has('COUNT') && seen.has('UNTIL')) {
    throw new RecurrenceError('recurrence may have COUNT or UNTIL, not both');
  }
  const count = parts.find(([name]) => name === 'COUNT');
  const rule = parts
    .filter(([name]) => name !== 'COUNT')
    .map((part) => part.join('='))
    .join(';');
  try {
    RRule.parseString(rule);
  } catch {
    throw new RecurrenceError(`recurrence must be an RFC 5545 rule ${EXAMPLE}`);
  }
  return { rule, count: count ? Number(count[1]) : null };
}

/** The rule as the API answers it: the stored text, with the occurrences left as `COUNT`. */
export const recurrenceText = (rule: string | null, count: number | null): string | null =>
  rule === null ? null : count === null ? rule : `${rule};COUNT=${count}`;

/** A wall time as `rrule` takes it: its fields as a UTC instant. */
const floating = (wall: Temporal.PlainDateTime): Date =>
  new Date(Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second));

const wallTime = (date: Date): Temporal.PlainDateTime =>
  Temporal.PlainDateTime.from(date.toISOString().slice(0, 19));

/**
 * The rule's `UNTIL` as a floating wall time. A date is the last day itself (inclusive: RFC 5545
 * gives an all-day rule a date); a UTC instant is read in the task's zone; a time without `Z` is
 * already a wall time.
 */
function floatingUntil(rule: string, timeZone: string | null): Temporal.PlainDateTime | null {
  const until = /(?:^|;)UNTIL=(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z?))?/.exec(rule);
  if (!until) return null;
  const [, year, month, day, hour, minute, second, utc] = until;
  const date = Temporal.PlainDate.from(`${year}-${month}-${day}`);
  if (hour === undefined) return date.toPlainDateTime({ hour: 23, minute: 59, second: 59 });
  const wall = date.toPlainDateTime(`${hour}:${minute}:${second}`);
  if (utc && timeZone) {
    return wall.toZonedDateTime('UTC').withTimeZone(timeZone).toPlainDateTime();
  }
  return wall;
}

const formatWall = (wall: Temporal.PlainDateTime): string =>
  `${wall.toPlainDate().toString()} ${wall.toPlainTime().toString({ smallestUnit: 'second' })}`;

/**
 * The occurrences strictly after the due date (and time), as wall times `YYYY-MM-DD HH:MM:SS` in
 * the task's zone (midnight for an all-day task), at most `UPCOMING_LIMIT`, and
 * `MORE_OCCURRENCES` last when the rule goes on past them. `COUNT` counts this task's own
 * occurrence: `COUNT=3` has two more. Empty: the rule has ended. Throws
 * `ExpansionTimeoutError` for a rule that never matches.
 */
export function upcomingOccurrences(due: DueSchedule, recurrence: Recurrence): string[] {
  const start = Temporal.PlainDate.from(due.dueDate).toPlainDateTime(
    due.dueTime ? Temporal.PlainTime.from(due.dueTime) : undefined,
  );
  const options: Partial<Options> = RRule.parseString(recurrence.rule);
  const left = recurrence.count === null ? Infinity : recurrence.count - 1;
  const limit = Math.min(UPCOMING_LIMIT, left);
  if (limit <= 0) return [];
  const horizon = start.add({ years: HORIZON_YEARS[options.freq ?? Frequency.DAILY] });
  const until = floatingUntil(recurrence.rule, due.timeZone);
  const end = until && Temporal.PlainDateTime.compare(until, horizon) < 0 ? until : horizon;
  const dtstart = floating(start);
  const rule = new RRule({ ...options, dtstart, until: floating(end) });
  // One more than the list holds, to know whether the rule goes on past it.
  const dates = bounded(() =>
    rule.all((date, index) => index < limit + 2).filter((date) => date > dtstart),
  ).slice(0, limit + 1);
  const walls = dates
    .map(wallTime)
    .map((wall) =>
      due.timeZone
        ? wall.toZonedDateTime(due.timeZone, { disambiguation: 'compatible' }).toPlainDateTime()
        : wall,
    );
  // More than the list holds, or none seen past the horizon although COUNT and UNTIL allow more.
  const goesOn =
    left > Math.min(walls.length, limit) &&
    (walls.length > limit || (end === horizon && walls.length > 0));
  return [...walls.slice(0, limit).map(formatWall), ...(goesOn ? [MORE_OCCURRENCES] : [])];
}

/**
 * Checks that a rule can be a task's: it parses, it has a due date to start from, and at least
 * one occurrence after it. Returns the stored form and the precomputed occurrences.
 */
export function scheduleOf(
  text: string,
  due: DueSchedule | null,
): { recurrence: Recurrence; upcoming: string[] } {
  const recurrence = parseRecurrence(text);
  if (!due) throw new RecurrenceError('recurrence needs a due_date to repeat from');
  let upcoming: string[];
  try {
    upcoming = upcomingOccurrences(due, recurrence);
  } catch (error) {
    if (!(error instanceof ExpansionTimeoutError)) throw error;
    upcoming = [];
  }
  if (upcoming.length === 0 || upcoming[0] === MORE_OCCURRENCES) {
    throw new RecurrenceError('recurrence has no occurrence after the due date');
  }
  return { recurrence, upcoming };
}
