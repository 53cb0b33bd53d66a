import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Pool } from 'pg';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { poolOf } from '../database/pg-pool';

type RequestLabels = 'method' | 'route' | 'status_code';

/**
 * The Prometheus metrics of one application instance, in a registry of its own (tests run
 * several apps in one process). Request metrics are recorded by an `onResponse` hook
 * (see `createApp`); pool gauges are read from node-postgres when scraped.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly requests: Counter<RequestLabels>;
  private readonly durations: Histogram<RequestLabels>;
  private readonly rateLimitStoreErrors: Counter;
  private readonly rateLimitStoreBypasses: Counter;
  private readonly shedRequests: Counter;
  /** The request series by method, status and route, so that prom-client hashes their labels
   * once rather than on every response (bounded: routes are templates). */
  private readonly requestSeries = new Map<
    string,
    { count: Counter.Internal; duration: Histogram.Internal<RequestLabels> }
  >();

  constructor(@InjectDataSource() dataSource: DataSource) {
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route template and status',
      labelNames: ['method', 'route', 'status_code'],
      registers,
    });
    this.durations = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from receiving a request to sending its response',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.rateLimitStoreErrors = new Counter({
      name: 'rate_limit_store_errors_total',
      help: 'Rate-limit checks that Redis failed or did not answer in time (counted in process instead)',
      registers,
    });
    this.rateLimitStoreBypasses = new Counter({
      name: 'rate_limit_store_bypassed_total',
      help: 'Rate-limit checks counted in process at once because Redis was not answering another',
      registers,
    });

    this.shedRequests = new Counter({
      name: 'http_requests_shed_total',
      help: 'API requests refused with 503 SERVICE_OVERLOADED: as many were in flight as the pool serves in time',
      registers,
    });

    // The pool exists once the DataSource is initialised, which it is before any scrape.
    const pool = (): Pool | undefined => poolOf(dataSource);
    const poolGauge = (name: string, help: string, read: (pool: Pool) => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const current = pool();
          this.set(current ? read(current) : 0);
        },
      });
    };
    poolGauge(
      'db_pool_connections_in_use',
      'Database connections checked out of the pool',
      (p) => p.totalCount - p.idleCount,
    );
    poolGauge(
      'db_pool_connections_idle',
      'Open database connections not in use',
      (p) => p.idleCount,
    );
    poolGauge(
      'db_pool_requests_waiting',
      'Queries waiting for a free database connection',
      (p) => p.waitingCount,
    );
  }

  /** Called once per response; `route` is the route template, so label values stay bounded. */
  observeRequest(method: string, route: string, statusCode: number, seconds: number): void {
    const key = `${method} ${statusCode} ${route}`;
    let series = this.requestSeries.get(key);
    if (series === undefined) {
      const labels = { method, route, status_code: statusCode };
      series = { count: this.requests.labels(labels), duration: this.durations.labels(labels) };
      this.requestSeries.set(key, series);
    }
    series.count.inc();
    series.duration.observe(seconds);
  }

  /** A rate-limit check that the shared store (Redis) failed; the request was still served. */
  countRateLimitStoreError(): void {
    this.rateLimitStoreErrors.inc();
  }

  /** An API request refused on arrival because too many were in flight (request-shedding.ts). */
  countShedRequest(): void {
    this.shedRequests.inc();
  }

  /** A rate-limit check counted in process without waiting for a Redis that is in doubt. */
  countRateLimitStoreBypass(): void {
    this.rateLimitStoreBypasses.inc();
  }
}
