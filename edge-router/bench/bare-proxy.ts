import proxy from '@fastify/http-proxy';
import Fastify from 'fastify';

/** The peer: a bare @fastify/http-proxy in front of the same upstream, logging off. */
const app = Fastify({ logger: false });
await app.register(proxy, { upstream: process.env.UPSTREAM_URL as string, http: undefined });
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
const address = app.server.address();
process.stdout.write(`ready ${typeof address === 'object' && address ? address.port : ''}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
