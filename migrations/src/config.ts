import { type ConfigOf, type Env, readConfig, url } from '@strangler/foundation';

const schema = {
  DATABASE_URL: url({ default: 'postgres://postgres@127.0.0.1:5432/shopco', protocols: ['postgres', 'postgresql'] }),
};

/** The only place the migration and seed commands read the environment. */
export function loadCliConfig(env: Env): ConfigOf<typeof schema> {
  return readConfig(schema, env);
}
