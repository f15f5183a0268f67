import { randomUUID } from 'node:crypto';
import { type IncomingMessage, maxHeaderSize, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { Ajv, type Options as AjvOptions, type ErrorObject } from 'ajv';
import type { DataValidationCxt } from 'ajv/dist/types/index.js';
import addFormatsModule from 'ajv-formats';
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifySchemaCompiler,
  FastifyServerOptions,
} from 'fastify';
import type { Logger } from 'pino';
import { HeadersTooLarge, InvalidUrl, MalformedRequest, PathSegmentTooLong, RequestTimeout } from '../errors.ts';

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
 * The first string in `data` that a service could not store and give back
 * unchanged: Postgres text cannot hold NUL (the insert fails), and an
 * unpaired surrogate has no UTF-8 form (it would be stored as U+FFFD).
 * Iterative, so no depth of nesting can exhaust the stack.
 */
export function unstorableText(data: unknown): { instancePath: string; message: string } | null {
  const pending: Array<[unknown, string]> = [[data, '']];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [value, path] = next;
    if (typeof value === 'string') {
      if (value.includes('\u0000'))
        return { instancePath: path, message: 'must not contain the NUL character (U+0000)' };
      if (!value.isWellFormed()) {
        return { instancePath: path, message: 'must be well-formed Unicode (it has an unpaired surrogate)' };
      }
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, item] of Object.entries(value)) pending.push([item, `${path}/${key}`]);
    }
  }
  return null;
}

type Validate = ((data: unknown) => boolean) & { errors?: unknown };

/**
 * Bodies are validated strictly: `"5"` is not an integer. Params and query
 * strings arrive as text, so they are coerced (`/users/5` → 5) before the same
 * JSON-schema rules apply. Whatever passes its schema must also be text a
 * database can store as sent (`unstorableText`), so that a NUL or a lone
 * surrogate is a 400 VALIDATION_FAILED, not a 500 or a silently changed value.
 */
export function strictBodyValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const bodyAjv = makeAjv({ coerceTypes: false });
  const textAjv = makeAjv({ coerceTypes: 'array' });
  return ({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? bodyAjv : textAjv;
    const validateSchema = ajv.compile(schema as object);
    const validate: Validate = (data) => {
      if (!validateSchema(data)) {
        validate.errors = validateSchema.errors;
        return false;
      }
      const problem = unstorableText(data);
      validate.errors = problem ? [{ keyword: 'storableText', params: {}, ...problem }] : null;
      return problem === null;
    };
    return validate as ReturnType<FastifySchemaCompiler<unknown>>;
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

type ParserError = Error & { code?: string; reason?: unknown };

/** Per connection: requests dispatched and not yet answered, and whether to close once none is left. */
const pendingAnswers = new WeakMap<Socket, { count: number; closeWhenAnswered: boolean }>();

/**
 * Counts a request until its answer is done (the error handler plugin calls
 * it for every request), so a connection closed for a malformed request
 * pipelined behind others closes only after all of them are answered.
 */
export function trackPendingAnswer(socket: Socket, res: ServerResponse): void {
  let pending = pendingAnswers.get(socket);
  if (!pending) {
    pending = { count: 0, closeWhenAnswered: false };
    pendingAnswers.set(socket, pending);
  }
  const p = pending;
  p.count++;
  res.once('close', () => {
    p.count--;
    if (p.closeWhenAnswered && p.count === 0) socket.end();
  });
}

/** The HTTP parser's own short reason (static text, e.g. "Duplicate Content-Length"), or a generic one. */
function parserReason(err: ParserError): string {
  const reason = typeof err.reason === 'string' ? err.reason : '';
  return /^[ -~]{1,120}$/.test(reason) ? reason : 'the HTTP parser refused it';
}

/**
 * Requests the HTTP parser refuses before any route runs: conflicting or
 * repeated framing headers (request smuggling), folded or malformed header
 * lines, bad chunking, headers over the size limit. Answered in the error
 * contract's shape with a request id, then the connection is closed, since
 * where the next request would start on it is unknown. Behind an earlier
 * request still being answered on the same connection, nothing is written:
 * the earlier answer goes out, then the connection closes.
 */
function clientError(this: FastifyInstance, err: ParserError, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const error =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? new HeadersTooLarge(String(maxHeaderSize))
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new RequestTimeout()
        : new MalformedRequest(parserReason(err));
  const status = error.statusCode ?? 400;
  const requestId = randomUUID();
  this.log.info({ reqId: requestId, code: error.code, parser: err.code }, 'request refused');
  // Earlier requests pipelined on this connection, received in full, are
  // still being answered: an answer written now would be read as theirs.
  // Let every one of them finish, then close. (A request whose own body broke
  // the parser is not complete: it gets the error below.)
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (inFlight?.req.complete) {
    const pending = pendingAnswers.get(socket);
    if (pending && pending.count > 0) pending.closeWhenAnswered = true;
    else inFlight.once('finish', () => socket.end());
    return;
  }
  if (socket.writable && !inFlight?.headersSent) {
    const body = JSON.stringify({ error: { code: error.code, message: error.message } });
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
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
    clientErrorHandler: clientError,
    return503OnClosing: true,
  };
}
