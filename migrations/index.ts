import { CreateTasks1732406400000 } from './1732406400000-create-tasks';
import { CreateLists1733000000000 } from './1733000000000-create-lists';
import { AddSyncTrashAndIdempotency1733200000000 } from './1733200000000-add-sync-trash-and-idempotency';
import { AddListSync1733300000000 } from './1733300000000-add-list-sync';
import { OrganiseTasks1733400000000 } from './1733400000000-organise-tasks';
import { AddRemindersAndLiveEvents1733500000000 } from './1733500000000-add-reminders-and-live-events';
import { AddRecurrence1733600000000 } from './1733600000000-add-recurrence';
import { NextOccurrenceFunction1733700000000 } from './1733700000000-next-occurrence-function';

/** Every migration, oldest first. Listed rather than globbed so that ts-node, jest and the
 * compiled build load the same classes. */
export const MIGRATIONS = [
  CreateTasks1732406400000,
  CreateLists1733000000000,
  AddSyncTrashAndIdempotency1733200000000,
  AddListSync1733300000000,
  OrganiseTasks1733400000000,
  AddRemindersAndLiveEvents1733500000000,
  AddRecurrence1733600000000,
  NextOccurrenceFunction1733700000000,
];
