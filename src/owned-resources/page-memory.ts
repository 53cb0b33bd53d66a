import type { FastifyReply } from 'fastify';

/** How large the pages of lists and changes feeds may be, and how many bytes of them at once. */
export interface PageLimits {
  /** A page's byte budget (PAGE_MAX_BYTES): its rows' texts and a per-row allowance. */
  maxBytes: number;
  /** The bound on the bytes of the pages this process holds at once (PAGE_BYTES_IN_FLIGHT). */
  bytesInFlight: number;
}

export const DEFAULT_PAGE_LIMITS: PageLimits = {
  maxBytes: 1024 * 1024,
  bytesInFlight: 16 * 1024 * 1024,
};

/** A page would take the process past PAGE_BYTES_IN_FLIGHT: 503 with Retry-After. */
export class PagesInFlightError extends Error {
  constructor() {
    super('Too many bytes of pages are in flight');
    this.name = 'PagesInFlightError';
  }
}

/** One instance for every refusal: no stack is captured per refused request. */
const FULL = new PagesInFlightError();

/**
 * The pages this process holds, counted in the statements' bytes from the moment a page is read
 * until its response is over. A page's rows, its response objects and its JSON all live that
 * long, so the count bounds the heap those take (about three times the count, measured in
 * docs/reliability.md). A page that would pass the bound is dropped at once and answered 503:
 * what the heap holds is then at most the bound plus the pages being read, one per database
 * connection.
 */
export class PageMemory {
  private held = 0;
  limits: PageLimits = DEFAULT_PAGE_LIMITS;

  /** Holds `bytes` until `reply`'s response is over; throws `PagesInFlightError` past the bound.
   * A page alone is always let through, so a bound below one page cannot refuse everything. */
  hold(reply: FastifyReply, bytes: number): void {
    // A client gone while its page was read: its response closed already, and would never say
    // so again (the bytes would stay held for ever, and the process refuse every page).
    if (reply.raw.destroyed || reply.raw.closed) return;
    if (this.held > 0 && this.held + bytes > this.limits.bytesInFlight) throw FULL;
    this.held += bytes;
    reply.raw.once('close', () => {
      this.held -= bytes;
    });
  }

  /** The bytes held now (for tests and metrics). */
  get bytesHeld(): number {
    return this.held;
  }
}

/**
 * The process's one account, configured from AppConfig when the app is created. Process-wide by
 * nature: the heap it protects is the process's, whichever module serves the page.
 */
export const pageMemory = new PageMemory();
