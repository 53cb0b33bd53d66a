import type { Response } from 'supertest';
import type { ErrorCode } from '../../src/http/error-codes';

const PROBLEM_KEYS = ['code', 'detail', 'instance', 'request_id', 'status', 'title', 'type'];

/**
 * Asserts that a response is the problem details of specification §4: status, `code`, content type,
 * exactly the documented members, the request id of the header, and nothing leaked.
 */
export function expectProblem(response: Response, status: number, code: ErrorCode): void {
  expect({ status: response.status, code: response.body?.code }).toEqual({ status, code });
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json\b/);
  const body = response.body as Record<string, unknown>;
  const keys = Object.keys(body).sort();
  expect(keys).toEqual(
    code === 'VALIDATION_ERROR' && 'errors' in body
      ? [...PROBLEM_KEYS, 'errors'].sort()
      : PROBLEM_KEYS,
  );
  expect(body).toMatchObject({ type: 'about:blank', status });
  expect(typeof body.title).toBe('string');
  expect(body.detail).toEqual(expect.stringMatching(/\S.*[.]$/));
  expect(body.request_id).toBe(response.headers['x-request-id']);
  expect(String(body.instance)).toMatch(/^\//);
  expect(response.text).not.toMatch(
    /\bat .+:\d+:\d+|SELECT|INSERT|UPDATE "|DELETE FROM|\$1|node_modules/,
  );
}

/** The field errors of a VALIDATION_ERROR, as `field: message` lines. */
export const fieldErrors = (response: Response): string[] =>
  ((response.body?.errors ?? []) as { field: string; message: string }[]).map(
    ({ field, message }) => `${field}: ${message}`,
  );
