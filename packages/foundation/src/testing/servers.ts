/**
 * Where the tests find Postgres and Redis: `DATABASE_URL` / `REDIS_URL` when set
 * (CI and this project's `./run test` set them to local servers), otherwise
 * containers started with testcontainers for the length of the run.
 */

export interface TestServers {
  databaseUrl: string;
  redisUrl: string;
  stop(): Promise<void>;
}

export async function resolveTestServers(env: NodeJS.ProcessEnv = process.env): Promise<TestServers> {
  const stops: Array<() => Promise<unknown>> = [];
  let databaseUrl = env.DATABASE_URL;
  let redisUrl = env.REDIS_URL;
  if (!databaseUrl || !redisUrl) {
    console.log('[tests] DATABASE_URL / REDIS_URL not set: starting containers with testcontainers (needs Docker)');
  }
  try {
    if (!databaseUrl) {
      const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
      const pg = await new PostgreSqlContainer('postgres:15-alpine')
        .withUsername('postgres')
        .withPassword('postgres')
        .start();
      stops.push(() => pg.stop());
      databaseUrl = pg.getConnectionUri();
    }
    if (!redisUrl) {
      const { RedisContainer } = await import('@testcontainers/redis');
      const redis = await new RedisContainer('redis:7-alpine').start();
      stops.push(() => redis.stop());
      redisUrl = redis.getConnectionUrl();
    }
  } catch (err) {
    await Promise.allSettled(stops.map((stop) => stop()));
    throw new Error(
      `Could not start test containers (${(err as Error).message}). Either run Docker, or point the tests at ` +
        'servers: DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 ' +
        '(./run test does this for you).',
    );
  }
  return {
    databaseUrl,
    redisUrl,
    stop: async () => {
      await Promise.allSettled(stops.map((stop) => stop()));
    },
  };
}
