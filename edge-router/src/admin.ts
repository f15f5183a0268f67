import { createHash, timingSafeEqual } from 'node:crypto';
import type { FlagSource } from '@strangler/flags';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { decide } from './decide.ts';
import { AdminUnauthorized } from './errors.ts';
import type { RouteTable } from './routes.ts';
import type { ShadowRecorder } from './shadow.ts';

/** Compares digests, so the time taken says nothing about the token, its length included. */
export function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
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
    const header = request.headers.authorization ?? '';
    const given = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (!tokenMatches(given, deps.token)) throw new AdminUnauthorized();
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
  });
}
