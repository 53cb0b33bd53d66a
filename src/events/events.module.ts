import { Module } from '@nestjs/common';
import { TasksModule } from '../tasks/tasks.module';
import { ChangeListener } from './change-listener';
import { DemoController } from './demo.controller';
import { EventHub } from './event-hub';
import { EventsController } from './events.controller';
import { ReminderJob } from './reminder-job';
import { StreamTickets } from './stream-tickets';

/** Live events and reminders (specification §15, docs/events.md). */
@Module({
  imports: [TasksModule],
  controllers: [EventsController, DemoController],
  providers: [EventHub, ChangeListener, ReminderJob, StreamTickets],
  exports: [EventHub, ChangeListener],
})
export class EventsModule {}
