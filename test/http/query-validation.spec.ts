import type { ArgumentMetadata } from '@nestjs/common';
import { RequestValidationError } from '../../src/http/request-errors';
import { RequestValidationPipe } from '../../src/http/validation';
import { ListTasksQueryDto } from '../../src/tasks/dto/list-tasks-query.dto';

const QUERY: ArgumentMetadata = { type: 'query', metatype: ListTasksQueryDto };

// The pipe remembers the queries that passed (http/validation.ts): what it answers must be what
// validating afresh would answer, every time.
describe('remembered query validation', () => {
  it('answers a remembered query with a copy of its DTO, which a handler may change', async () => {
    const pipe = new RequestValidationPipe();
    const first = (await pipe.transform({ limit: '50' }, QUERY)) as ListTasksQueryDto;
    expect(first).toBeInstanceOf(ListTasksQueryDto);
    expect(first).toMatchObject({ limit: 50, sort: '-created_at' });
    first.limit = 7;
    const second = (await pipe.transform({ limit: '50' }, QUERY)) as ListTasksQueryDto;
    expect(second).toBeInstanceOf(ListTasksQueryDto);
    expect(second).not.toBe(first);
    expect(second).toMatchObject({ limit: 50, sort: '-created_at' });
  });

  it('tells apart queries that differ only in a value, a key or an array', async () => {
    const pipe = new RequestValidationPipe();
    await expect(pipe.transform({ limit: '5' }, QUERY)).resolves.toMatchObject({ limit: 5 });
    await expect(pipe.transform({ limit: '6' }, QUERY)).resolves.toMatchObject({ limit: 6 });
    await expect(pipe.transform({ completed: 'true' }, QUERY)).resolves.toMatchObject({
      completed: true,
    });
    await expect(pipe.transform({ limit: ['5', '6'] }, QUERY)).rejects.toBeInstanceOf(
      RequestValidationError,
    );
  });

  it('refuses a bad query every time it comes, since a failure is never remembered', async () => {
    const pipe = new RequestValidationPipe();
    for (let attempt = 0; attempt < 3; attempt++) {
      await expect(pipe.transform({ limit: 'abc' }, QUERY)).rejects.toBeInstanceOf(
        RequestValidationError,
      );
      await expect(pipe.transform({ toString: 'x' }, QUERY)).rejects.toBeInstanceOf(
        RequestValidationError,
      );
    }
  });
});
