import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { isUnavailableError } from '../src/db.ts';
import { defineError, errorCatalog } from '../src/errors.ts';
import { toErrorResponse } from '../src/http/error-handler.ts';
import { requestIdOf, strictBodyValidatorCompiler, unstorableText } from '../src/http/server-options.ts';

describe('toErrorResponse', () => {
  it('turns a validation failure into 400 VALIDATION_FAILED with the framework message', () => {
    const res = toErrorResponse({ message: 'body/email must match format "email"', validation: [{}] }, 'r1', 1024);
    expect(res).toEqual({
      status: 400,
      body: { error: { code: 'VALIDATION_FAILED', message: 'body/email must match format "email"' } },
    });
  });

  it('maps body-parsing errors to their public codes', () => {
    expect(
      toErrorResponse({ code: 'FST_ERR_CTP_INVALID_JSON_BODY', message: 'x', statusCode: 400 }, 'r', 1).body.error.code,
    ).toBe('INVALID_JSON');
    expect(toErrorResponse({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', message: 'x', statusCode: 413 }, 'r', 2048)).toEqual({
      status: 413,
      body: { error: { code: 'PAYLOAD_TOO_LARGE', message: 'The request body is larger than 2048 bytes' } },
    });
    expect(
      toErrorResponse({ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', message: 'x', statusCode: 415 }, 'r', 1).status,
    ).toBe(415);
  });

  it('passes defined 4xx errors through and hides everything else behind 500', () => {
    const Teapot = defineError('TEST_TEAPOT', 418, 'I am a teapot: %s');
    expect(toErrorResponse(new Teapot('short'), 'r', 1)).toEqual({
      status: 418,
      body: { error: { code: 'TEST_TEAPOT', message: 'I am a teapot: short' } },
    });
    const internal = toErrorResponse(new Error('relation "users" does not exist'), 'req-7', 1);
    expect(internal.status).toBe(500);
    expect(internal.body.error.code).toBe('INTERNAL');
    expect(internal.body.error.message).not.toContain('relation');
    expect(internal.body.error.message).toContain('req-7');
  });

  it('passes a declared 5xx through as it is, and an undeclared one or a wrong status as INTERNAL', () => {
    const Timeout = defineError('TEST_UPSTREAM_TIMEOUT', 504, 'The %s did not answer in time');
    expect(toErrorResponse(new Timeout('service'), 'r', 1)).toEqual({
      status: 504,
      body: { error: { code: 'TEST_UPSTREAM_TIMEOUT', message: 'The service did not answer in time' } },
    });
    const undeclared = Object.assign(new Error('secret detail'), { code: 'SOMETHING', statusCode: 502 });
    expect(toErrorResponse(undeclared, 'r', 1)).toMatchObject({ status: 500, body: { error: { code: 'INTERNAL' } } });
    const wrongStatus = Object.assign(new Error('x'), { code: 'TEST_UPSTREAM_TIMEOUT', statusCode: 500 });
    expect(toErrorResponse(wrongStatus, 'r', 1).body.error.code).toBe('INTERNAL');
  });

  it('answers 503 when the database cannot be reached', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(toErrorResponse(refused, 'r', 1).status).toBe(503);
    expect(isUnavailableError(Object.assign(new Error('x'), { code: '57P01' }))).toBe(true);
    expect(isUnavailableError(Object.assign(new Error('x'), { code: '23505' }))).toBe(false);
  });

  it('refuses one code defined twice with different meanings', () => {
    defineError('TEST_ONCE', 400, 'one');
    expect(() => defineError('TEST_ONCE', 409, 'other')).toThrow(/defined twice/);
    expect(errorCatalog().filter((e) => e.code === 'TEST_ONCE')).toHaveLength(1);
  });
});

describe('requestIdOf', () => {
  const req = (value?: string) =>
    ({ headers: value === undefined ? {} : { 'x-request-id': value } }) as IncomingMessage;
  it('keeps a sane caller id and replaces anything else', () => {
    expect(requestIdOf(req('abc-123_x.y:z'))).toBe('abc-123_x.y:z');
    for (const bad of ['', 'a b', 'x'.repeat(65), 'id\nInjected: 1', 'é']) {
      expect(requestIdOf(req(bad))).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(requestIdOf(req())).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('strictBodyValidatorCompiler', () => {
  const compile = strictBodyValidatorCompiler();
  const idSchema = {
    type: 'object',
    properties: { id: { type: 'string', integerText: { minimum: 1, maximum: 100 } } },
  };
  const validate = (httpPart: string, schema: object) =>
    compile({ schema, httpPart, method: 'GET', url: '/' }) as (data: unknown) => boolean;

  it('hands a digits-only path id to the route as a number', () => {
    const check = validate('params', idSchema);
    const params: Record<string, unknown> = { id: '42' };
    expect(check(params)).toBe(true);
    expect(params.id).toBe(42);
  });

  it.each(['1e1', '0x1', '42.0', ' 42', '042', '0', '101', '-5', ''])('refuses the path id %j', (id) => {
    expect(validate('params', idSchema)({ id })).toBe(false);
  });

  it('does not coerce bodies: "5" is not an integer', () => {
    const check = validate('body', { type: 'object', properties: { n: { type: 'integer' } } });
    expect(check({ n: '5' })).toBe(false);
    expect(check({ n: 5 })).toBe(true);
  });

  it('coerces query strings', () => {
    const check = validate('querystring', { type: 'object', properties: { limit: { type: 'integer' } } });
    const query: Record<string, unknown> = { limit: '7' };
    expect(check(query)).toBe(true);
    expect(query.limit).toBe(7);
  });

  // Regression: a NUL in a name reached Postgres and answered 500; a lone surrogate was stored as U+FFFD.
  it('refuses text a database cannot store as sent, after the schema passed', () => {
    const check = validate('body', { type: 'object', properties: { name: { type: 'string' } } }) as ((
      data: unknown,
    ) => boolean) & { errors?: Array<{ instancePath: string; message: string }> };
    expect(check({ name: 'Zoë 名前 👩‍👩‍👧' })).toBe(true);
    expect(check({ name: 'a\u0000b' })).toBe(false);
    expect(check.errors?.[0]).toMatchObject({ instancePath: '/name', message: expect.stringContaining('NUL') });
    expect(check({ name: 'a\ud800' })).toBe(false);
    expect(check.errors?.[0]?.message).toMatch(/unpaired surrogate/);
    expect(check({ name: 5 })).toBe(false);
    expect(check.errors?.[0]?.message).toBe('must be string');
  });
});

describe('unstorableText', () => {
  it('names the first string that cannot be stored, at any depth', () => {
    expect(unstorableText({ items: [{ note: 'ok' }, { note: 'x\u0000' }] })).toEqual({
      instancePath: '/items/1/note',
      message: 'must not contain the NUL character (U+0000)',
    });
    expect(unstorableText({ a: ['\udc00'] })?.instancePath).toBe('/a/0');
    expect(unstorableText({ a: 1, b: null, c: ['fine', '🏳️‍🌈'] })).toBeNull();
  });

  it('walks 100,000 levels of nesting without exhausting the stack', () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}"\\u0000"${']'.repeat(100_000)}`);
    expect(unstorableText(deep)?.instancePath).toBe('/0'.repeat(100_000));
  });
});
