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
