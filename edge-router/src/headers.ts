import type { IncomingHttpHeaders } from 'node:http';

/** Headers that describe one connection, not the message: never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Set again by the proxy for the new hop. */
const REWRITTEN = new Set(['host', 'content-length', 'expect', 'x-request-id']);

function connectionTokens(headers: IncomingHttpHeaders): Set<string> {
  const value = headers.connection;
  const text = Array.isArray(value) ? value.join(',') : (value ?? '');
  return new Set(
    text
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
}

export interface ForwardContext {
  requestId: string;
  remoteAddress: string;
  host: string | undefined;
  protocol: string;
}

/** The request headers to send upstream: hop-by-hop and x-strangler-* stripped, x-forwarded-* and x-request-id set. */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  ctx: ForwardContext,
): Record<string, string | string[]> {
  const drop = connectionTokens(incoming);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || REWRITTEN.has(name) || drop.has(name)) continue;
    // The router's own headers (the shadow mark) are the router's to set: a client's never pass.
    if (name.startsWith('x-strangler-')) continue;
    out[name] = value;
  }
  const prior = incoming['x-forwarded-for'];
  const priorText = Array.isArray(prior) ? prior.join(', ') : prior;
  out['x-forwarded-for'] = priorText ? `${priorText}, ${ctx.remoteAddress}` : ctx.remoteAddress;
  out['x-forwarded-proto'] = ctx.protocol;
  if (ctx.host) out['x-forwarded-host'] = ctx.host;
  out['x-request-id'] = ctx.requestId;
  return out;
}

/** The response headers to send to the client: hop-by-hop and framing headers stripped. */
export function clientResponseHeaders(upstream: IncomingHttpHeaders): Record<string, string | string[]> {
  const drop = connectionTokens(upstream);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined || HOP_BY_HOP.has(name) || drop.has(name)) continue;
    if (name === 'content-length' || name === 'x-request-id') continue;
    out[name] = value;
  }
  return out;
}
