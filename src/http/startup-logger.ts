import { ConsoleLogger } from '@nestjs/common';
import { InvalidEnvironmentError } from '../config/environment';
import { DataLayerError } from '../database/data-layer.errors';

/** Nest's own start-up lines: one per module, per controller and per route. */
export const FRAMEWORK_START_UP_CONTEXTS = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestApplication',
]);

/**
 * A start-up failure the operator fixes by changing something outside the code (a variable, the
 * database, another process): its message says what, and `main.ts` prints it as the one line.
 */
export const hasOneLineRemedy = (error: unknown): error is Error =>
  error instanceof InvalidEnvironmentError || error instanceof DataLayerError;

/**
 * Nest's logger until nestjs-pino takes over, and the only one when start-up fails: JSON lines,
 * without the lines Nest buffered about each module it loaded, and without Nest's stack-traced
 * report of a failure that has a one-line remedy (main.ts prints that line).
 */
export class StartupLogger extends ConsoleLogger {
  constructor() {
    super({ json: true, colors: false });
  }

  override log(message: unknown, ...optionalParams: unknown[]): void {
    const context = optionalParams.at(-1);
    if (typeof context === 'string' && FRAMEWORK_START_UP_CONTEXTS.has(context)) return;
    super.log(message, ...optionalParams);
  }

  override error(message: unknown, ...optionalParams: unknown[]): void {
    if (optionalParams.at(-1) === 'ExceptionHandler' && hasOneLineRemedy(message)) return;
    super.error(message, ...optionalParams);
  }
}
