import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/public.decorator';
import { DEMO_HTML, DEMO_SCRIPT } from './demo-page';

/** The live-events demo page (public: it holds no data; the visitor brings a token). */
@ApiTags('demo')
@Public()
@Controller('demo')
export class DemoController {
  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @ApiOperation({
    summary: 'Live events demo page',
    description: 'Open it in two tabs to watch a change made in one arrive in the other.',
  })
  @ApiOkResponse({ content: { 'text/html': { schema: { type: 'string' } } } })
  page(): string {
    return DEMO_HTML;
  }

  @Get('app.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @ApiOperation({ summary: 'The script of the demo page' })
  @ApiOkResponse({ content: { 'text/javascript': { schema: { type: 'string' } } } })
  script(): string {
    return DEMO_SCRIPT;
  }
}
