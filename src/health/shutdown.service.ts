import { Injectable, Logger } from '@nestjs/common';

/**
 * The process's life cycle as readiness sees it. `beginShutdown` flips `/health` to 503 at once,
 * so a load balancer stops sending traffic while in-flight and straggling requests still succeed.
 */
@Injectable()
export class ShutdownService {
  private readonly logger = new Logger('Shutdown');
  private shuttingDown = false;
  private readonly listeners: (() => void)[] = [];

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Runs `listener` when shutdown begins (open event streams end at once, for example). */
  onShutdown(listener: () => void): void {
    this.listeners.push(listener);
  }

  beginShutdown(signal: string, graceMs: number): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.logger.log({ signal, graceMs }, 'shutting down: readiness is now 503');
    for (const listener of this.listeners) listener();
  }
}
