import { Controller, Get } from '@nestjs/common';

/** What the benchmark polls until the server answers. */
@Controller('health')
export class HealthController {
  @Get('live')
  live(): { status: string } {
    return { status: 'ok' };
  }
}
