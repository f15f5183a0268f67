import { parseArgs } from 'node:util';
import { redactUrl } from '@strangler/foundation';
import { loadCliConfig } from '../config.ts';
import { type DatabaseKind, databases, migrateLatest, migrateRollback } from '../migrator.ts';
import { fail, runCli } from './run-cli.ts';

const HELP = `Usage: pnpm migrate [options]

Creates the database when it is missing and applies every pending migration.
Running it again does nothing: it is idempotent.

Options:
  --database <kind>      which database: ${Object.keys(databases).join(', ')} (default: monolith)
  --database-url <url>   connection URL (default: $DATABASE_URL, else
                         postgres://postgres@127.0.0.1:5432/shopco)
  --rollback             undo the last batch of migrations instead
  -h, --help             show this help
`;

await runCli(async (argv) => {
  const { values } = parseArgs({
    args: argv,
    options: {
      database: { type: 'string', default: 'monolith' },
      'database-url': { type: 'string' },
      rollback: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  const kind = values.database as DatabaseKind;
  if (!(kind in databases)) fail(`unknown database "${kind}"; choose one of ${Object.keys(databases).join(', ')}`);
  const url = values['database-url'] ?? loadCliConfig(process.env).DATABASE_URL;
  if (values.rollback) {
    const reverted = await migrateRollback(kind, url);
    console.log(reverted.length ? `Rolled back: ${reverted.join(', ')}` : 'Nothing to roll back.');
    return;
  }
  const { created, applied } = await migrateLatest(kind, url);
  if (created) console.log(`Created database ${redactUrl(url)}`);
  console.log(
    applied.length
      ? `Applied ${applied.length} migration(s) to ${kind}: ${applied.join(', ')}`
      : `${kind} schema is up to date.`,
  );
}, HELP);
