import { EmbeddedPostgresServer } from '../../src/database/embedded-postgres';

/**
 * Runs the test cluster in a process of its own (started by the global setup): Jest's module
 * system cannot load the ES-module-only embedded-postgres package in the setup process itself.
 * Prints the admin URL as one JSON line, and stops the server on SIGTERM or when stdin closes.
 */
async function main(): Promise<void> {
  const server = await EmbeddedPostgresServer.start({
    dataDir: process.argv[2] as string,
    database: 'postgres',
    log: () => undefined,
    durable: false,
  });
  process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void server.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop).resume();
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
