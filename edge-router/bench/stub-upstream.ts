import { createServer } from 'node:http';

/**
 * The upstream every benchmark target forwards to: answers at once with a
 * fixed product JSON (GET) or a fixed created order (POST), so what is
 * measured is the proxy, not a database.
 */
const product = JSON.stringify({
  id: 1,
  sku: 'LAMP-1',
  name: 'Desk lamp',
  description: 'Brass, 40 cm',
  priceCents: 4999,
  stock: 12,
});
const order = JSON.stringify({
  id: 7,
  userId: 1,
  status: 'pending',
  totalCents: 4999,
  items: [{ productId: 1, quantity: 1, unitPriceCents: 4999 }],
  createdAt: '2026-01-01T00:00:00.000Z',
});

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = req.method === 'POST' ? order : product;
    res.writeHead(req.method === 'POST' ? 201 : 200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`ready ${typeof address === 'object' && address ? address.port : ''}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
