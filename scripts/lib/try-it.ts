/**
 * The "try it" lines the demo prints. They are real shell: the demo test runs
 * them as printed, so they cannot drift from what the demo serves.
 */
export interface TryItData {
  login: { userId: number; email: string; password: string } | null;
  /** A product with stock left, so the checkout line succeeds. */
  productId: number | null;
}

export function tryItLines(
  baseUrl: string,
  { login, productId }: TryItData,
  { adminToken }: { adminToken: string },
): string[] {
  const json = (body: object) => `'${JSON.stringify(body)}'`;
  const lines = [`curl -sf '${baseUrl}/api/products/search?q=lamp&limit=3'`];
  if (productId !== null) lines.push(`curl -sf ${baseUrl}/api/products/${productId}`);
  if (login && productId !== null) {
    lines.push(
      `TOKEN=$(curl -sf -X POST ${baseUrl}/api/users/login -H 'content-type: application/json' -d ${json({ email: login.email, password: login.password })} | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).token')`,
      `curl -sf ${baseUrl}/api/users/${login.userId}/orders`,
      `curl -sf -X POST ${baseUrl}/api/checkout -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d ${json({ userId: login.userId, items: [{ productId, quantity: 1 }], card: '4242424242424242' })}`,
      `curl -s -X POST ${baseUrl}/api/checkout -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d ${json({ userId: login.userId, items: [{ productId, quantity: 1 }], card: '4000000000000002' })}   # declined: 402, stock released`,
    );
  }
  lines.push(
    `curl -s ${baseUrl}/metrics | grep 'router_request_duration_seconds_count'`,
    `curl -sf -H 'authorization: Bearer ${adminToken}' ${baseUrl}/_strangler/api/routes | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).routes.map((r) => r.method + " " + r.path + " -> " + r.decision.target + " (" + r.decision.reason + ")").join("\\n")'`,
    'pnpm flags list',
    'pnpm flags kill && pnpm flags unkill   # the kill switch: everything to the monolith at once, then back',
    'pnpm strangler status users',
    'pnpm strangler advance users --reason "start the users extraction"   # capture, backfill, reconcile: users is at sync',
    'pnpm strangler history users',
  );
  return lines;
}
