import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Ajv, type Options as AjvOptions, type ErrorObject } from 'ajv';
import type { DataValidationCxt } from 'ajv/dist/types/index.js';
import addFormatsModule from 'ajv-formats';
import type { FastifyError, FastifyReply, FastifyRequest, FastifySchemaCompiler, FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import { InvalidUrl, PathSegmentTooLong } from '../errors.ts';

// ajv-formats is CommonJS; imported from ESM, its plugin is the export named default.
const addFormats = addFormatsModule.default;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * The id of a request: the caller's `x-request-id` when it is a sane token (so
 * one id follows a request through the router and every service), otherwise a
 * new UUID. An arbitrary header value is never trusted into the logs.
 */
export function requestIdOf(req: IncomingMessage): string {
  const header = req.headers['x-request-id'];
  const value = Array.isArray(header) ? header[0] : header;
  return value && REQUEST_ID.test(value) ? value : randomUUID();
}

interface IntegerTextRange {
  minimum: number;
  maximum: number;
}

/**
 * `integerText`: a path or query value that must be written as plain decimal
 * digits (`42`, not `1e3`, `0x2a`, `42.0` or ` 42`) within a range, and is
 * handed to the route as a number. Ajv's type coercion alone accepts `1e3`.
 */
function addIntegerTextKeyword(ajv: Ajv): void {
  type Validate = ((range: IntegerTextRange, data: string, parent: unknown, ctx?: DataValidationCxt) => boolean) & {
    errors?: Partial<ErrorObject>[];
  };
  const validate: Validate = (range, data, _parent, ctx) => {
    const n = /^(0|[1-9][0-9]{0,15})$/.test(data) ? Number(data) : Number.NaN;
    if (!(n >= range.minimum && n <= range.maximum)) {
      validate.errors = [
        { keyword: 'integerText', message: `must be an integer from ${range.minimum} to ${range.maximum}`, params: {} },
      ];
      return false;
    }
    // Ajv always passes the data context to a modifying keyword inside an object.
    if (ctx) (ctx.parentData as Record<string | number, unknown>)[ctx.parentDataProperty] = n;
    return true;
  };
  ajv.addKeyword({ keyword: 'integerText', type: 'string', modifying: true, errors: true, validate });
}

function makeAjv(options: AjvOptions): Ajv {
  const ajv = new Ajv({ allErrors: false, removeAdditional: false, useDefaults: true, strict: false, ...options });
  addFormats(ajv);
  addIntegerTextKeyword(ajv);
  return ajv;
}

/**
 * Bodies are validated strictly: `"5"` is not an integer. Params and query
 * strings arrive as text, so they are coerced (`/users/5` → 5) before the same
 * JSON-schema rules apply.
 */
export function strictBodyValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const bodyAjv = makeAjv({ coerceTypes: false });
  const textAjv = makeAjv({ coerceTypes: 'array' });
  return ({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? bodyAjv : textAjv;
    return ajv.compile(schema as object) as ReturnType<FastifySchemaCompiler<unknown>>;
  };
}

export interface HttpServerOptions {
  logger: Logger;
  /** Largest accepted request body in bytes. */
  bodyLimit?: number;
}

const MAX_PARAM_LENGTH = 200;

/**
 * Errors the router raises before any route or error handler runs (a path
 * that is not valid percent-encoding, an over-long path segment) answered in
 * the same `{ error: { code, message } }` shape as everything else.
 */
function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const mapped =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? new PathSegmentTooLong(String(MAX_PARAM_LENGTH)) : new InvalidUrl();
  request.log.info({ code: mapped.code }, 'request refused');
  void reply
    .status(mapped.statusCode ?? 400)
    .header('x-request-id', request.id)
    .send({ error: { code: mapped.code, message: mapped.message } });
}

export function httpServerOptions({ logger, bodyLimit = 1024 * 1024 }: HttpServerOptions): FastifyServerOptions {
  return {
    loggerInstance: logger,
    genReqId: requestIdOf,
    requestIdHeader: false,
    bodyLimit,
    // Ids are short; a 10 kB path parameter is an attack, not a request.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors,
    return503OnClosing: true,
  };
}
