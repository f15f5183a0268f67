import { defineError } from '@strangler/foundation';

// The router's own error codes (docs/errors.md). Answers from upstreams pass through unchanged.

export const AmbiguousPath = defineError('ROUTER_AMBIGUOUS_PATH', 400, 'Refused an ambiguous request path: %s');
export const UpstreamUnavailable = defineError(
  'ROUTER_UPSTREAM_UNAVAILABLE',
  503,
  'The %s is unavailable; nothing was done, retry shortly',
);
export const UpstreamTimeout = defineError(
  'ROUTER_UPSTREAM_TIMEOUT',
  504,
  'The %s did not answer in time; the request may or may not have been applied',
);
export const UpstreamBroken = defineError(
  'ROUTER_UPSTREAM_BROKEN',
  502,
  'The %s closed the connection before answering; the request may or may not have been applied',
);
export const WritesHeld = defineError(
  'ROUTER_WRITES_HELD',
  503,
  'Writes of %s are held: %s; nothing was done, retry shortly',
);
export const AdminUnauthorized = defineError(
  'ROUTER_ADMIN_UNAUTHORIZED',
  401,
  'Send the admin token: Authorization: Bearer <ADMIN_TOKEN>',
);
export const DashboardHeaderMissing = defineError(
  'ROUTER_DASHBOARD_HEADER',
  403,
  'A change from the dashboard must carry the header x-strangler-dashboard: 1',
);
