import { runStranglerCli } from './strangler/run.ts';

// `pnpm strangler`: see `pnpm strangler --help`, or migrations/README.md.
process.exitCode = await runStranglerCli(process.argv.slice(2), process.env, {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  progress: process.stderr,
});
