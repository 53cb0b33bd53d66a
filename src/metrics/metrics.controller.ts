import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { prometheusContentType } from 'prom-client';
import { Public } from '../auth/public.decorator';
import { MetricsService } from './metrics.service';

@ApiTags('operations')
@Public()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  /** Unauthenticated, like the health probes: expose it on the internal network only. */
  @Get()
  @Header('Content-Type', prometheusContentType)
  @ApiOperation({
    summary: 'Prometheus metrics (text exposition format)',
    description: 'Unauthenticated: expose it on the internal network only.',
  })
  @ApiProduces(prometheusContentType)
  @ApiOkResponse({ schema: { type: 'string' } })
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
