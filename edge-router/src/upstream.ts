import type { IncomingHttpHeaders } from 'node:http';
import { Pool } from 'undici';
import { CircuitBreaker } from './breaker.ts';

/**
 * One upstream (the monolith or a service): a keep-alive connection pool with
 * its own timeouts, and its circuit breaker. `send` makes exactly one attempt:
 * nothing here ever retries, so a non-idempotent request is never sent twice.
 */

export interface UpstreamOptions {
  name: string;
  url: string;
  timeoutMs: number;
  connections: number;
  breaker: { failureThreshold: number; cooldownMs: number };
  /** Largest response body accepted from the upstream. */
  maxResponseBytes: number;
}

export interface UpstreamRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[]>;
  body: Buffer | null;
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * How one attempt failed, as far as what the upstream did is concerned:
 * `unavailable` and `breaker-open`: the request was never sent (nothing was
 * done); `timeout`: sent, no answer in time; `broken`: sent, and the
 * connection failed before the answer came (the upstream may have done it).
 */
export type UpstreamFailure = 'timeout' | 'unavailable' | 'breaker-open' | 'broken';

export class UpstreamError extends Error {
  readonly kind: UpstreamFailure;
  readonly upstream: string;
  constructor(upstream: string, kind: UpstreamFailure, cause?: unknown) {
    super(`${upstream}: ${kind}${cause instanceof Error ? ` (${cause.message})` : ''}`);
    this.name = 'UpstreamError';
    this.kind = kind;
    this.upstream = upstream;
  }
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
/** Failures before the request could leave: no connection was made. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The undici error's code, or its cause's (a connect error carries the socket's). */
function codeOf(err: unknown): string {
  let cause: unknown = err;
  for (let depth = 0; cause && depth < 3; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cause = (cause as { cause?: unknown }).cause;
  }
  return '';
}

function failureOf(err: unknown): UpstreamFailure {
  const code = codeOf(err);
  if (TIMEOUT_CODES.has(code)) return 'timeout';
  if (NOT_SENT_CODES.has(code)) return 'unavailable';
  return 'broken';
}

export class Upstream {
  readonly name: string;
  readonly url: string;
  readonly breaker: CircuitBreaker;
  readonly #pool: Pool;
  readonly #maxResponseBytes: number;

  constructor(options: UpstreamOptions) {
    this.name = options.name;
    this.url = options.url;
    this.#maxResponseBytes = options.maxResponseBytes;
    this.breaker = new CircuitBreaker(options.breaker);
    this.#pool = new Pool(options.url, {
      connections: options.connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connectTimeout: Math.min(options.timeoutMs, 2_000),
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  /**
   * One attempt. A 5xx answer is returned (the caller decides), but counts as
   * a failure for the breaker; connection errors and timeouts throw UpstreamError.
   */
  async send(request: UpstreamRequest): Promise<UpstreamResponse> {
    if (!this.breaker.tryAcquire()) throw new UpstreamError(this.name, 'breaker-open');
    try {
      const res = await this.#pool.request({
        method: request.method as 'GET',
        path: request.path,
        headers: request.headers,
        body: request.body,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > this.#maxResponseBytes) {
          res.body.destroy();
          throw new Error(`response larger than ${this.#maxResponseBytes} bytes`);
        }
        chunks.push(chunk as Buffer);
      }
      if (res.statusCode >= 500) this.breaker.recordFailure();
      else this.breaker.recordSuccess();
      return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) };
    } catch (err) {
      this.breaker.recordFailure();
      throw new UpstreamError(this.name, failureOf(err), err);
    }
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}
