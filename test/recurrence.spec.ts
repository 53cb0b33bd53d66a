import {
  MORE_OCCURRENCES,
  parseRecurrence,
  RecurrenceError,
  recurrenceText,
  scheduleOf,
  UPCOMING_LIMIT,
  upcomingOccurrences,
} from '../src/tasks/recurrence';

/** The expansion of recurrence rules, without a database: what completions copy from. */
describe('recurrence rules', () => {
  const allDay = (dueDate: string) => ({ dueDate, dueTime: null, timeZone: null });

  it('takes the last day of each month: Jan 31 is followed by Feb 28, then Mar 31', () => {
    const upcoming = upcomingOccurrences(
      allDay('2025-01-31'),
      parseRecurrence('FREQ=MONTHLY;BYMONTHDAY=-1'),
    );
    expect(upcoming.slice(0, 3)).toEqual([
      '2025-02-28 00:00:00',
      '2025-03-31 00:00:00',
      '2025-04-30 00:00:00',
    ]);
    expect(upcoming).toHaveLength(UPCOMING_LIMIT + 1);
    expect(upcoming.at(-1)).toBe(MORE_OCCURRENCES);
  });

  it('keeps 09:00 local in Europe/Berlin across the March change to summer time', () => {
    const upcoming = upcomingOccurrences(
      { dueDate: '2025-03-28', dueTime: '09:00', timeZone: 'Europe/Berlin' },
      parseRecurrence('FREQ=DAILY'),
    );
    // 2025-03-30 is the change (02:00 becomes 03:00): the wall time stays 09:00 each day.
    expect(upcoming.slice(0, 4)).toEqual([
      '2025-03-29 09:00:00',
      '2025-03-30 09:00:00',
      '2025-03-31 09:00:00',
      '2025-04-01 09:00:00',
    ]);
  });

  it('moves a wall time that falls in the DST gap forward by the gap, that day only', () => {
    const upcoming = upcomingOccurrences(
      { dueDate: '2025-03-29', dueTime: '02:30', timeZone: 'Europe/Berlin' },
      parseRecurrence('FREQ=DAILY'),
    );
    expect(upcoming.slice(0, 2)).toEqual(['2025-03-30 03:30:00', '2025-03-31 02:30:00']);
  });

  it('counts this occurrence in COUNT and lists the rest, with no marker after the last', () => {
    const recurrence = parseRecurrence('FREQ=DAILY;COUNT=3');
    expect(recurrence).toEqual({ rule: 'FREQ=DAILY', count: 3 });
    expect(upcomingOccurrences(allDay('2025-01-01'), recurrence)).toEqual([
      '2025-01-02 00:00:00',
      '2025-01-03 00:00:00',
    ]);
    expect(upcomingOccurrences(allDay('2025-01-03'), { rule: 'FREQ=DAILY', count: 1 })).toEqual([]);
  });

  it('repeats weekly on Mondays and Wednesdays, from a due date on neither', () => {
    const upcoming = upcomingOccurrences(
      { dueDate: '2025-01-30', dueTime: '18:15', timeZone: 'America/New_York' },
      parseRecurrence('FREQ=WEEKLY;BYDAY=MO,WE'),
    );
    expect(upcoming.slice(0, 4)).toEqual([
      '2025-02-03 18:15:00',
      '2025-02-05 18:15:00',
      '2025-02-10 18:15:00',
      '2025-02-12 18:15:00',
    ]);
  });

  it('honours UNTIL: a date is inclusive, a UTC instant is read in the task zone', () => {
    expect(
      upcomingOccurrences(allDay('2025-01-01'), parseRecurrence('FREQ=DAILY;UNTIL=20250103')),
    ).toEqual(['2025-01-02 00:00:00', '2025-01-03 00:00:00']);
    // 07:59 UTC is 08:59 in Berlin: the 09:00 of Jan 3 is past it.
    expect(
      upcomingOccurrences(
        { dueDate: '2025-01-01', dueTime: '09:00', timeZone: 'Europe/Berlin' },
        parseRecurrence('FREQ=DAILY;UNTIL=20250103T075900Z'),
      ),
    ).toEqual(['2025-01-02 09:00:00']);
  });

  it('answers the rule with the occurrences left as COUNT', () => {
    expect(recurrenceText('FREQ=DAILY', 2)).toBe('FREQ=DAILY;COUNT=2');
    expect(recurrenceText('FREQ=DAILY', null)).toBe('FREQ=DAILY');
    expect(recurrenceText(null, null)).toBeNull();
    expect(parseRecurrence('freq=weekly;count=4;byday=mo')).toEqual({
      rule: 'FREQ=WEEKLY;BYDAY=MO',
      count: 4,
    });
  });

  it.each([
    ['', 'not one of its parts'],
    ['RRULE:FREQ=DAILY', 'not one of its parts'],
    ['FREQ=FOO', 'DAILY, WEEKLY, MONTHLY or YEARLY'],
    ['FREQ=HOURLY', 'DAILY, WEEKLY, MONTHLY or YEARLY'],
    ['FREQ=DAILY;BYHOUR=9', "keeps the task's due_time"],
    ['FREQ=DAILY;COUNT=abc', 'COUNT=ABC'],
    ['FREQ=DAILY;COUNT=0', 'COUNT=0'],
    ['FREQ=WEEKLY;BYDAY=XX', 'BYDAY=XX'],
    ['FREQ=MONTHLY;BYMONTHDAY=32', 'BYMONTHDAY=32'],
    ['FREQ=DAILY;FREQ=WEEKLY', 'FREQ twice'],
    ['BYDAY=MO', 'needs a FREQ'],
    ['FREQ=DAILY;COUNT=2;UNTIL=20250101', 'not both'],
    ['FREQ=DAILY;X-NAME=1', 'not one of its parts'],
  ])('refuses %j', (text, message) => {
    expect(() => parseRecurrence(text)).toThrow(RecurrenceError);
    expect(() => parseRecurrence(text)).toThrow(message);
  });

  it('refuses a rule with no occurrence after the due date, even one that never matches', () => {
    expect(() => scheduleOf('FREQ=DAILY;COUNT=1', allDay('2025-01-01'))).toThrow(
      'no occurrence after the due date',
    );
    expect(() => scheduleOf('FREQ=DAILY;UNTIL=20241231', allDay('2025-01-01'))).toThrow(
      'no occurrence after the due date',
    );
    // 30 February never comes: rrule alone would step day by day to the year 9999 (about a
    // minute, past the test's timeout); the expansion's time limit stops it.
    expect(() => scheduleOf('FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30', allDay('2025-01-01'))).toThrow(
      'no occurrence after the due date',
    );
    expect(() => scheduleOf('FREQ=DAILY', null)).toThrow('needs a due_date');
  });
});
