import { Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import { AppConfig } from '../config/app-config';
import { MetricsService } from '../metrics/metrics.service';

/**
 * How many API requests may be in flight, waiting for a database connection or using one: as many
 * as the pool serves within the connect timeout (the longest a request waits for a connection) if
 * each connection served only 10 requests a second. A healthy database serves hundreds; a longer
 * queue means the database is stuck or far slower than the traffic, and its requests would time
 * out anyway.
 */
export const inFlightLimit = (poolMax: number, connectTimeoutMs: number): number =>
  Math.max(poolMax, Math.round((poolMax * 10 * connectTimeoutMs) / 1000));

/** Where the shedding hook leaves the function that gives a request's place back. */
const RELEASE = Symbol('requestShedding.release');
type CountedResponse = ServerResponse & { [RELEASE]?: () => void };

/**
 * Stops counting a request as in flight: for a long-lived response (an event stream) once it
 * has done its database work, so that open streams, which have their own bounds, do not use up
 * the places of requests waiting for the database.
 */
export function leaveInFlight(response: ServerResponse): void {
  (response as CountedResponse)[RELEASE]?.();
}

/**
 * A request refused because this instance is overloaded: answered 503 SERVICE_OVERLOADED, which
 * an operator tells apart from an outage (SERVICE_UNAVAILABLE) in responses, logs and metrics.
 */
export class ServiceOverloadedError extends Error {
  constructor() {
    super('Too many requests are in flight on this instance');
    this.name = new.target.name;
  }
}

/** One instance for every refusal: no stack is captured per refused request. */
const QUEUE_FULL = new ServiceOverloadedError();

/**
 * Refuses API requests with 503 SERVICE_OVERLOADED and Retry-After at once, before the body is read, the token
 * checked or the input validated, while that many are in flight. Measured with a thousand requests queued behind a
 * stuck database (docs/reliability.md): liveness was slow not because it waits for anything, but
 * because the one event loop spent seconds in bursts of work for the queued requests: on their
 * arrival, and again when they all reached the connection timeout together. A bounded queue
 * bounds both bursts, and a refused client retries elsewhere instead of waiting for a 503.
 */
@Injectable()
export class RequestShedding implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    const { poolMax, connectTimeoutMs } = this.config.database;
    const limit = inFlightLimit(poolMax, connectTimeoutMs);
    // Counted from arrival, not from the pool's own queue: requests that arrive together all
    // pass authentication before the first of them asks the pool for a connection.
    let inFlight = 0;
    fastify.addHook('onRequest', (request, reply, done) => {
      if (request.routeOptions.url?.startsWith('/api/') !== true) return done();
      if (inFlight >= limit) {
        this.metrics.countShedRequest();
        return done(QUEUE_FULL);
      }
      inFlight++;
      let counted = true;
      const release = (): void => {
        if (counted) inFlight--;
        counted = false;
      };
      (reply.raw as CountedResponse)[RELEASE] = release;
      reply.raw.once('close', release);
      done();
    });
  }
}
