import { availableParallelism, loadavg } from 'node:os';

/**
 * How many times slower than an idle machine this one runs right now: runnable processes per
 * core, measured over the last one and five minutes (the larger), at least 1. CI machines are
 * shared, and at load 10 on two cores everything a test waits for that is not a configured
 * timer (a child process's event loop, the kernel's scheduling, PostgreSQL's work) takes about
 * five times as long as on an idle laptop.
 */
export function busyFactor(): number {
  const [lastMinute, lastFiveMinutes] = loadavg();
  return Math.max(1, Math.max(lastMinute, lastFiveMinutes) / availableParallelism());
}

/**
 * The room a duration bound leaves for the machine's own work: `idleMs` (what that work takes on
 * an idle machine, generously) stretched by the measured load. A bound is then the configured
 * timer it checks plus this, so it still tells "cut by the timer" from "hung" or "waited on
 * something else" at any load, and never fails because a shared machine was busy.
 */
export const loadSlack = (idleMs: number): number => Math.round(idleMs * busyFactor());

/**
 * Waits until `done()` holds, checking every `everyMs`, for at most `timeoutMs` (a guard against
 * a hang, not a budget: pick it far beyond what the slowest machine needs). Returns whether
 * `done()` held, so that the caller's assertion says what was missing.
 */
export async function waitUntil(
  done: () => boolean | Promise<boolean>,
  { timeoutMs, everyMs = 50 }: { timeoutMs: number; everyMs?: number },
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!(await done())) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return true;
}
