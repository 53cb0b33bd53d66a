import { DatabaseUnavailableError } from './data-layer.errors';

/**
 * The SQL of work that no request asked for (a job on a timer, the events listener), opened by
 * a comment that names the job (JOB_STATEMENT_PREFIX, the name, then the comment's end):
 * pg_stat_activity and the database's logs say which job runs it, and a count of a request's
 * statements (the round-trip tests) can leave it out.
 */
export const jobStatement = (job: string, text: string): string =>
  `/* job: ${job} */ ${text.trim()}`;

/** How every statement marked by `jobStatement` starts. */
export const JOB_STATEMENT_PREFIX = '/* job: ';

/**
 * What a job logs of its failure: an outage, expected in operation, as what the driver said
 * (a warning without a stack, like the request log's 503s); anything else with its stack.
 */
export function jobFailure(error: unknown): Record<string, unknown> {
  if (error instanceof DatabaseUnavailableError) {
    return { error: error.message, sqlState: error.sqlState };
  }
  return { err: error };
}

/**
 * A job every process runs on its own timer (the purges, the reminder claims): a run still in
 * progress when the next is due, or asked for by a test, is joined, never doubled; `stop` waits
 * for it, so the pool never closes under a run. The timer alone never keeps the process alive.
 */
export class PeriodicJob<T> {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<T> | null = null;

  constructor(
    private readonly intervalMs: number,
    private readonly run: () => Promise<T>,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.runOnce(), this.intervalMs);
    this.timer.unref();
  }

  runOnce(): Promise<T> {
    this.running ??= this.run().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
