import { type Context, log, serverEnv, serviceCommand } from './context';
import { removeBenchmarkRows } from './database';
import { measureRoutes } from './phase-throughput';
import { freePort, startServer } from './processes';
import { textTable } from './report';
import { ROUTE_LABELS } from './scenarios';

/**
 * A lever (`--lever`, `--baseline-dist`, `--variant-dist`): the service as configured (baseline)
 * and a variant of it, taking turns as the floor and the service do; no floor. Prints the change
 * of each route's requests per second and CPU time per request.
 */
export async function measureLever(context: Context): Promise<void> {
  const { options, database } = context;
  const lever = [
    ...(options.baselineDist || options.variantDist
      ? [
          `the build in ${options.variantDist ?? 'dist'} instead of ${options.baselineDist ?? 'dist'}`,
        ]
      : []),
    ...Object.entries(options.lever ?? {}).map(([key, value]) => `${key}=${value}`),
  ].join(' and ');
  log(
    `\nlever ${lever}: the service as configured (baseline) and with ${lever} (variant) take ` +
      `turns, ${options.connections} connections`,
  );
  const baselinePort = await freePort();
  const baseline = await startServer({
    name: 'service-baseline',
    command: serviceCommand(options, options.baselineDist ?? 'dist'),
    env: serverEnv(options, database.url, baselinePort),
    port: baselinePort,
  });
  try {
    const variantPort = await freePort();
    const variant = await startServer({
      name: 'service-variant',
      command: serviceCommand(options, options.variantDist ?? 'dist'),
      env: { ...serverEnv(options, database.url, variantPort), ...options.lever },
      port: variantPort,
    });
    try {
      const comparisons = await measureRoutes(
        context,
        { floor: baseline, service: variant },
        {},
        { floor: 'baseline', service: 'variant' },
      );
      const change = (after: number, before: number): string =>
        `${after >= before ? '+' : ''}${(((after - before) / before) * 100).toFixed(0)} %`;
      log(`\nlever ${lever}:`);
      log(
        textTable(
          [
            'route',
            'baseline req/s',
            'p95 ms',
            'CPU ms/req',
            'variant req/s',
            'p95 ms',
            'CPU ms/req',
            'req/s',
            'CPU/req',
          ],
          comparisons.map((c) => [
            ROUTE_LABELS[c.route],
            Math.round(c.floor.requestsPerSec).toString(),
            c.floor.p95.toFixed(2),
            c.cpuPerRequest.floor.toFixed(2),
            Math.round(c.service.requestsPerSec).toString(),
            c.service.p95.toFixed(2),
            c.cpuPerRequest.service.toFixed(2),
            change(c.service.requestsPerSec, c.floor.requestsPerSec),
            change(c.cpuPerRequest.service, c.cpuPerRequest.floor),
          ]),
        ),
      );
      log(
        `peak RSS: baseline ${baseline.memory.peakMb().toFixed(0)} MB ` +
          `(${baseline.memory.readyMb.toFixed(0)} once started), variant ` +
          `${variant.memory.peakMb().toFixed(0)} MB (${variant.memory.readyMb.toFixed(0)} once started)`,
      );
    } finally {
      await variant.stop();
    }
  } finally {
    await baseline.stop();
  }
  await removeBenchmarkRows(database.url);
}
