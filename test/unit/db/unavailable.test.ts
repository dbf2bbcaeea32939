import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from '../../../src/db/index.ts';
import { AppError } from '../../../src/shared/index.ts';

describe('isDatabaseUnavailable', () => {
  it('recognises the ways pg and knex report an unreachable or silent database', () => {
    const cases = [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout expired'),
      new Error('Query read timeout'),
      Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }),
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      Object.assign(new Error('Knex: Timeout acquiring a connection.'), { name: 'KnexTimeoutError' }),
      new Error('wrapped', { cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) }),
    ];
    for (const error of cases) expect(isDatabaseUnavailable(error), error.message).toBe(true);
  });

  it('does not claim other errors, nor errors we raised on purpose', () => {
    expect(isDatabaseUnavailable(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
    expect(isDatabaseUnavailable(new Error('boom'))).toBe(false);
    const custodian = new AppError('custodian_unavailable', 'down', { status: 503, cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) });
    expect(isDatabaseUnavailable(custodian)).toBe(false);
  });
});
