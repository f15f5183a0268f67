import { runFlagsCli } from './cli/run.ts';

// `pnpm flags`: see `pnpm flags --help`, or flags/README.md.
process.exitCode = await runFlagsCli(process.argv.slice(2), process.env, {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
