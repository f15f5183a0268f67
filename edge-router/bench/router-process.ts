import { staticFlagSource } from '@strangler/flags';
import { createLogger } from '@strangler/foundation';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';

/**
 * The router as the benchmark runs it: the real app with metrics and info
 * logging (to stdout, which the harness discards), a users service
 * configured, and flags that keep every route on the monolith, so each
 * request is normalised, matched, decided and forwarded like in production.
 * The flags come from a static source so Unleash's polling is not measured.
 */
const config = loadConfig({ ...process.env, USERS_SERVICE_URL: 'http://127.0.0.1:9', LOG_LEVEL: 'info' });
const logger = createLogger({ name: 'edge-router', level: 'info' });
const app = await buildApp(config, { flags: staticFlagSource(), logger });
await app.listen({ host: '127.0.0.1', port: config.PORT });
const address = app.server.address();
process.stdout.write(`ready ${typeof address === 'object' && address ? address.port : ''}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
