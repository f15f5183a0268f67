import type { FlagSource } from '@strangler/flags';
import { RouteNotFound, secretMatches } from '@strangler/foundation';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { decide } from './decide.ts';
import { AdminUnauthorized } from './errors.ts';
import type { RouteTable } from './routes.ts';
import type { ShadowRecorder } from './shadow.ts';

/**
 * The admin token a request presents: the bearer credential of its
 * Authorization header, or null. The scheme is matched without case (RFC
 * 9110); the token itself is compared exactly, by `secretMatches`.
 */
export function presentedBearer(header: string | undefined): string | null {
  const match = header === undefined ? null : /^bearer +(\S+)$/i.exec(header.trim());
  return match?.[1] ?? null;
}

export interface AdminDeps {
  token: string;
  table: RouteTable;
  flags: FlagSource;
  services: ReadonlySet<string>;
  shadow: ShadowRecorder;
}

/** The admin API under /_strangler/api; registered only when ADMIN_TOKEN is set. */
export function registerAdmin(app: FastifyInstance, deps: AdminDeps): void {
  const requireToken = async (request: FastifyRequest): Promise<void> => {
    if (!secretMatches(presentedBearer(request.headers.authorization), deps.token)) throw new AdminUnauthorized();
  };

  app.register(async (admin) => {
    admin.addHook('onRequest', requireToken);

    // Each route's decision right now, for an anonymous visitor or for `?user=<id>`.
    admin.get<{ Querystring: { user?: string } }>(
      '/_strangler/api/routes',
      {
        schema: {
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { user: { type: 'string', pattern: '^[0-9]{1,10}$' } },
          },
        },
      },
      async (request) => {
        const flags = deps.flags.snapshot();
        const stickyId = request.query.user ?? 'session:admin-preview';
        return {
          flags,
          flagClient: deps.flags.state(),
          routes: deps.table.rules.map((rule) => {
            const match = { rule, key: `${rule.method} ${rule.path}` };
            const decision = decide({
              match,
              method: rule.method,
              flags,
              services: deps.services,
              stickyId,
              shadowSample: 0,
            });
            return { ...rule, decision };
          }),
        };
      },
    );

    admin.get('/_strangler/api/shadow', async () => ({
      stats: Object.fromEntries(deps.shadow.stats),
      recentMismatches: deps.shadow.recent(),
    }));

    // Any other path of the admin API: refused without the token like the
    // others (its existence is not revealed), a 404 with it; never forwarded.
    admin.all('/_strangler/api/*', notFound);
  });
  // The rest of the router's namespace (the dashboard's page and assets are
  // routes of their own): a 404 here, never forwarded to ShopCo.
  app.all('/_strangler/*', notFound);
}

async function notFound(request: FastifyRequest): Promise<never> {
  throw new RouteNotFound(request.method, request.url.split('?')[0] ?? request.url);
}

/**
 * With no ADMIN_TOKEN the admin API and the dashboard do not exist: their
 * paths answer 404 here instead of being forwarded to ShopCo, which must
 * never see the router's own namespace.
 */
export function registerAdminAbsent(app: FastifyInstance): void {
  app.all('/_strangler', notFound);
  app.all('/_strangler/*', notFound);
}
