/**
 * The route table: every route of ShopCo's API, with the bounded context it
 * belongs to and whether it reads or writes. Routing is by route, not prefix:
 * `GET /api/users/:userId/orders` lives under /api/users but belongs to orders.
 * A request that matches no rule goes to the monolith.
 */

export type Access = 'read' | 'write';

export interface RouteRule {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Fastify-style pattern: static segments and `:param` segments. */
  path: string;
  /** The bounded context that owns the route; only extractable ones have flags. */
  context: string;
  access: Access;
}

export const ROUTES: readonly RouteRule[] = [
  { method: 'POST', path: '/api/users/register', context: 'users', access: 'write' },
  // Login changes nothing, so it is a read; it is a POST, so it is never retried or mirrored.
  { method: 'POST', path: '/api/users/login', context: 'users', access: 'read' },
  { method: 'GET', path: '/api/users/:id', context: 'users', access: 'read' },
  { method: 'PUT', path: '/api/users/:id', context: 'users', access: 'write' },
  { method: 'GET', path: '/api/users/:userId/orders', context: 'orders', access: 'read' },
  { method: 'POST', path: '/api/products', context: 'products', access: 'write' },
  { method: 'GET', path: '/api/products/search', context: 'products', access: 'read' },
  { method: 'GET', path: '/api/products/:id', context: 'products', access: 'read' },
  { method: 'PUT', path: '/api/products/:id/inventory', context: 'products', access: 'write' },
  { method: 'POST', path: '/api/orders', context: 'orders', access: 'write' },
  { method: 'GET', path: '/api/orders/:id', context: 'orders', access: 'read' },
  { method: 'PATCH', path: '/api/orders/:id/status', context: 'orders', access: 'write' },
  { method: 'POST', path: '/api/payments', context: 'payments', access: 'write' },
  { method: 'GET', path: '/api/payments/:id', context: 'payments', access: 'read' },
  { method: 'POST', path: '/api/payments/:id/refund', context: 'payments', access: 'write' },
  { method: 'POST', path: '/api/checkout', context: 'checkout', access: 'write' },
];

export interface RouteMatch {
  rule: RouteRule;
  /** `METHOD /pattern`, the label used in metrics and the admin API. */
  key: string;
}

interface CompiledRule {
  rule: RouteRule;
  key: string;
  segments: readonly string[];
  /** Static segments outrank parameters: /api/products/search before /api/products/:id. */
  staticCount: number;
}

export interface RouteTable {
  match(method: string, segments: readonly string[]): RouteMatch | null;
  rules: readonly RouteRule[];
}

export function compileRoutes(rules: readonly RouteRule[] = ROUTES): RouteTable {
  const byMethod = new Map<string, CompiledRule[]>();
  for (const rule of rules) {
    const segments = rule.path.split('/').slice(1);
    const compiled: CompiledRule = {
      rule,
      key: `${rule.method} ${rule.path}`,
      segments,
      staticCount: segments.filter((s) => !s.startsWith(':')).length,
    };
    const list = byMethod.get(rule.method) ?? [];
    list.push(compiled);
    byMethod.set(rule.method, list);
  }
  for (const list of byMethod.values()) list.sort((a, b) => b.staticCount - a.staticCount);
  return {
    rules,
    match(method, segments) {
      // HEAD is a GET without a body, as in Fastify.
      const candidates = byMethod.get(method === 'HEAD' ? 'GET' : method);
      if (!candidates) return null;
      for (const c of candidates) {
        if (c.segments.length !== segments.length) continue;
        let ok = true;
        for (let i = 0; i < segments.length; i++) {
          const want = c.segments[i] as string;
          const got = segments[i] as string;
          if (want.startsWith(':') ? got === '' : want !== got) {
            ok = false;
            break;
          }
        }
        if (ok) return { rule: c.rule, key: c.key };
      }
      return null;
    },
  };
}
