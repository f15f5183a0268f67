/** The `pnpm strangler` help texts, apart from the logic so both stay readable. */

const ENVIRONMENT = `Environment:
  STRANGLER_DATABASE_URL  the toolkit's database: stages, history, reconcile runs; created and
                          migrated on first use (default postgres://postgres@127.0.0.1:5432/strangler)
  DATABASE_URL            the monolith's database (default .../shopco)
  USERS_DATABASE_URL      the users service's database (default .../shopco_users)
  PRODUCTS_DATABASE_URL   the products service's database (default .../shopco_products)
  REDIS_URL               the sync queues, the routers' traffic counts and their write fence
                          (default redis://127.0.0.1:6379)
  TRAFFIC_KEY_PREFIX      the routers' traffic key prefix (default strangler:traffic)
  SYNC_QUEUE_PREFIX       the sync queues' key prefix (default strangler)
  GATE_WINDOW_SECONDS     the traffic window the gates read (default 300, at most 3600)
  UNLEASH_URL             Unleash (default http://127.0.0.1:4242)
  UNLEASH_ADMIN_TOKEN     an admin API token of that Unleash
  FENCE_KEY_PREFIX        the routers' write fence key prefix (default strangler:fence)
  CUTOVER_HOLD_MS         the write cutover's longest hold of writes (default 4000; keep it under
                          the routers' WRITE_HOLD_MAX_MS, 5000)
  CUTOVER_DRAIN_MS        of that, the longest the drain may take before the cutover aborts (default 2000)
  CUTOVER_MAX_LAG_SECONDS refuse to start a cutover when the sync is further behind (default 2)
  GATE_MAX_LAG_SECONDS, GATE_MIN_CONSISTENCY, GATE_MIN_SHADOW_SAMPLES, GATE_ERROR_RATE_MARGIN,
  GATE_P99_MARGIN_MS, GATE_MIN_REQUESTS
                          the gates' policy (defaults 5, 0.999, 200, 0.005, 50, 200)
  GUARD_WINDOW_SECONDS, GUARD_MIN_REQUESTS, GUARD_ERROR_RATE_MARGIN, GUARD_P99_MARGIN_MS,
  GUARD_SETBACK           the guarded rollout's policy (defaults 120, 100, 0.02, 250, previous;
                          GUARD_SETBACK=zero sets the reads back to 0 %)`;

export const GLOBAL_HELP = `Usage: pnpm strangler <command> [options]

Moves a bounded context through the strangler stages, one at a time:
  legacy → sync → shadow → canary → reads → writes → complete
checking each stage's gate first, doing the work the stage needs (capture,
backfill, reconcile, flags), and recording every move with who, when and why.
The contexts are users and products; each moves on its own.

Commands:
  status [context]               stage, flags, capture lag, backfill, last reconcile,
                                 shadow consistency, traffic, dead letters, next gate
  advance <context>              move one stage forward, if its gate is met
  rollback <context>             move one stage back
  canary <context> <percent>     set the canary % (canary stage only)
  reconcile <context>            compare the databases and record the drift
  guard [context] [--watch]      set the read rollout back when the service's reads are worse
  history <context>              the recorded moves

Options:
  -h, --help                     show help (also per command: pnpm strangler advance --help)

${ENVIRONMENT}

Exit codes: 0 done, 1 refused or failed (one line says why), 2 bad command line.

Examples:
  pnpm strangler status
  pnpm strangler advance users --reason "start the users extraction"
  pnpm sync:worker users          (in another terminal: the sync's relay and workers)
  pnpm strangler canary users 25
`;

const MOVE_OPTIONS = `  --reason <text>   why, for the history (required with --force)
  --actor <name>    who, for the history (default: $USER, else "cli")
  -h, --help        show this help`;

export const COMMAND_HELP: Record<string, string> = {
  status: `Usage: pnpm strangler status [context] [--json]

For each context (or the one named): its stage; the flags in Unleash (shadow %,
read %, write owner) and whether they match the stage; capture lag (age of the
oldest unapplied change, and rows); backfill progress; the last reconcile;
shadow consistency, error rate and p99 of service and monolith over the gate
window; dead letters; whether the next gate is met and why not; the last moves.
A server that is away shows as "unavailable: <why>" for its fields only.

Options:
  --json       the same, as one JSON document
  -h, --help   show this help
`,
  advance: `Usage: pnpm strangler advance <context> [--force --reason <text>] [--actor <name>]

Moves the context one stage forward after checking its gate (docs/adr/0001);
an unmet gate refuses with each reason and its numbers. The work of the move
runs before it is recorded, and is safe to run again if it fails midway:
  legacy → sync     create/migrate the service's database, install capture,
                    backfill (progress bar; Ctrl-C stops it, run again to resume),
                    one reconcile; then run \`pnpm sync:worker <context>\`
  sync → shadow     flags: shadow 100 %, reads 0 %, writes monolith
  shadow → canary   flags: reads at the canary % (10 % when none was set)
  canary → reads    flags: reads 100 %
  reads → writes    the write cutover (docs/adr/0012): every router holds the
                    context's writes, the forward sync drains, the service's id
                    sequences move past every id used, the flags give it the
                    writes, every router confirms, held writes are released to
                    it; the reverse sync (service → monolith) starts. Aborts and
                    changes nothing when the drain does not finish in time.
  writes → complete flags unchanged; the reverse sync keeps the monolith's copy

Options:
  --force           advance although the gate is not met, or cut over although
                    no router reports to the write fence; loud, and recorded
${MOVE_OPTIONS}
`,
  rollback: `Usage: pnpm strangler rollback <context> [--reason <text>] [--actor <name>]

Moves the context one stage back and sets the flags of that stage. From sync to
legacy it also removes capture (the outbox is kept). From writes to reads it is
the write cutover in reverse: hold, drain the reverse sync, hand the id
sequences back to the monolith, give it the writes, release.

Options:
  --force           cut back although no router reports to the write fence
${MOVE_OPTIONS}
`,
  canary: `Usage: pnpm strangler canary <context> <percent> [--reason <text>] [--actor <name>]

Sets the % of users whose reads the service serves (0 to 100), in the canary
stage only. Users are sticky: raising the % only adds users. Recorded in the history.

Options:
${MOVE_OPTIONS}
`,
  reconcile: `Usage: pnpm strangler reconcile <context> [--repair] [--json] [--actor <name>]

Compares the monolith's and the service's rows over the channel of the current
stage (forward before writes, reverse from then on), prints the drift and
records it: the sync → shadow gate needs a drift of 0. Rows whose change is
still waiting in the outbox count as drift here; they are lag.

Options:
  --repair          re-apply every drifting row, then compare again (both runs recorded)
  --json            the report as JSON
  --actor <name>    who, for the record (default: $USER, else "cli")
  -h, --help        show this help
`,
  guard: `Usage: pnpm strangler guard [context] [--watch [--interval <s>] [--metrics-port <port> [--metrics-host <host>]]] [--json]

The guarded rollout (docs/adr/0015). While a context is in canary or reads, the
routers count the reads each side served, with errors and latency, in Redis.
The guard compares the service's reads with the monolith's over a sliding
window (GUARD_WINDOW_SECONDS, never reaching back past the last move). Where
the monolith serves too few reads (at reads, or a canary at 100 %), its side is
its reads before the last move, else the last baseline a guard remembered. With at least GUARD_MIN_REQUESTS reads on each side, a service worse
than the monolith by more than GUARD_ERROR_RATE_MARGIN (error rate) or
GUARD_P99_MARGIN_MS (p99) gets its read rollout set back: in canary to the
previous %, at reads to canary at the % it came from (GUARD_SETBACK=zero: 0 %).
The setback is recorded in the history by "guard", with the numbers; it only
changes the reads and shadow flags, never during a write cutover, and under
the same per-context lock as every move, so any number of guards act once.

Options:
  --watch               keep checking until Ctrl-C or SIGTERM; prints a line when a
                        verdict changes or the guard acts
  --interval <s>        seconds between checks with --watch (default 10)
  --metrics-port <port> with --watch, serve /metrics (Prometheus) and /health on it
  --metrics-host <host> where that listens (default 127.0.0.1; 0.0.0.0 for a scraper elsewhere)
  --json                one check, as JSON
  -h, --help            show this help
`,
  history: `Usage: pnpm strangler history <context> [--limit <n>] [--json]

The recorded moves of a context, newest first: when, from and to, the canary %,
who, whether the gate was forced, and why.

Options:
  --limit <n>   how many (default 20)
  --json        as JSON, with each move's gate numbers
  -h, --help    show this help
`,
};
