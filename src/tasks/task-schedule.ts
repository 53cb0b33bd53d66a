import { RequestValidationError } from '../http/request-errors';
import { RecurrenceError, scheduleOf } from './recurrence';
import type { TaskPatch } from './tasks.resource';

/** The schedule fields of a create or an update body, as the wire names them. */
interface ScheduleBody {
  recurrence?: string | null;
  due_date?: string | null;
  due_time?: string | null;
  time_zone?: string | null;
}

type RecurrenceChanges = Pick<TaskPatch, 'recurrence' | 'recurrenceCount' | 'upcoming'>;

/**
 * The stored recurrence a write sets (docs/recurrence.md). The rule is expanded here, in the
 * service, whenever the schedule is written, so that completing the task later only copies the
 * first occurrence. That needs the whole schedule: a create has it (absent is null); an update
 * that sends `recurrence` must send `due_date`, `due_time` and `time_zone` with it, and one that
 * changes only the due fields clears `upcoming`, which the table refuses for a recurring task
 * (`ck_tasks_recurrence_schedule`, 400 on `recurrence`) and accepts for any other.
 */
export function recurrenceChanges(
  body: ScheduleBody,
  mode: 'create' | 'update',
): RecurrenceChanges {
  const dueSent = [body.due_date, body.due_time, body.time_zone].some(
    (value) => value !== undefined,
  );
  if (body.recurrence === undefined) return mode === 'update' && dueSent ? { upcoming: null } : {};
  if (body.recurrence === null) return { recurrence: null, recurrenceCount: null, upcoming: null };
  if (mode === 'update' && (body.due_time === undefined || body.time_zone === undefined)) {
    throw RequestValidationError.of(
      'recurrence',
      'send due_date, due_time and time_zone with recurrence (null for an all-day task): its occurrences follow from them',
    );
  }
  try {
    const { recurrence, upcoming } = scheduleOf(
      body.recurrence,
      body.due_date
        ? {
            dueDate: body.due_date,
            dueTime: body.due_time ?? null,
            timeZone: body.time_zone ?? null,
          }
        : null,
    );
    return { recurrence: recurrence.rule, recurrenceCount: recurrence.count, upcoming };
  } catch (error) {
    if (error instanceof RecurrenceError)
      throw RequestValidationError.of('recurrence', error.message);
    throw error;
  }
}
