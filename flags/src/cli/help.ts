/** The `pnpm flags` help texts, kept apart from the logic so both stay readable. */

const ENVIRONMENT = `Environment:
  UNLEASH_URL            Unleash to talk to (default http://127.0.0.1:4242, the one \`pnpm unleash\` starts)
  UNLEASH_ADMIN_TOKEN    an admin API token of that Unleash, or your personal access
                         token (default *:*.strangler-admin-dev; none in production)

Who changed what: Unleash records every change with the user of the token
(\`pnpm flags history\`). A personal access token (Unleash UI: profile →
Personal API tokens) records your name; the shared admin API token is
recorded as "admin".`;

export const GLOBAL_HELP = `Usage: pnpm flags <command> [options]

Reads and changes the migration flags in Unleash (project default,
environment development). Flags are named in full (strangler.users.reads)
or short (users.reads); each one's % is the rollout of its flexibleRollout
strategy, sticky by user id. A running router picks a change up within
about two seconds.

Commands:
  list                   every flag: enabled, rollout %, what it does now
  show <flag>            one flag in detail, with its last change and UI link
  set <flag> <percent>   set a flag's rollout % (alias: rollout); *.writes and
                         killswitch take only 0 or 100
  enable <flag>          turn a flag on at its rollout %
  disable <flag>         turn a flag off: its traffic goes back to the monolith
  kill                   kill switch on: every route to the monolith at once
  unkill                 kill switch off (same as kill --off)
  init                   create the flags that are missing in Unleash
  history [flag]         who changed the flags, when, and what (old → new)

Options:
  -h, --help             show help (also after a command: pnpm flags set --help)

${ENVIRONMENT}

Examples:
  pnpm flags init
  pnpm flags set users.reads 10 && pnpm flags enable users.reads
  pnpm flags list
  pnpm flags kill
  pnpm flags history users.reads
`;

const SET_HELP = `Usage: pnpm flags set <flag> <percent>      (alias: pnpm flags rollout)

Sets the flag's rollout to a whole % from 0 to 100. Users are sticky: raising
the % only adds users, and nobody moved at 10 % moves back at 50 %. It does
not enable or disable the flag. *.writes and killswitch are all or nothing:
0 or 100 only. Creates the flag first when it is missing.

Options:
  -h, --help   show this help

Example: pnpm flags set users.reads 25
`;

export const COMMAND_HELP: Record<string, string> = {
  list: `Usage: pnpm flags list [--json]

Prints every flag: whether it is enabled, its rollout %, what the router
does because of it, and when it last changed. A flag missing in Unleash
counts as off; \`pnpm flags init\` creates it.

Options:
  --json       print the flags as JSON
  -h, --help   show this help
`,
  show: `Usage: pnpm flags show <flag> [--json]

Prints one flag: description, enabled, rollout % and stickiness, what it
does now, its last change, its page in the Unleash UI, and any hand edits
that make the router and Unleash disagree.

Options:
  --json       print the flag as JSON
  -h, --help   show this help

Example: pnpm flags show users.reads
`,
  set: SET_HELP,
  rollout: SET_HELP,
  enable: `Usage: pnpm flags enable <flag>

Turns the flag on in Unleash: the router applies its rollout %.
Creates the flag first when it is missing.

Options:
  -h, --help   show this help
`,
  disable: `Usage: pnpm flags disable <flag>

Turns the flag off in Unleash: the router treats it as 0 %. Its rollout %
is kept for when it is enabled again.

Options:
  -h, --help   show this help
`,
  kill: `Usage: pnpm flags kill [--off]

Turns the kill switch on: every route goes to the monolith at once, whatever
the other flags say. The other flags keep their values, so \`pnpm flags
unkill\` (or kill --off) puts everything back as it was.

Options:
  --off        turn the kill switch off instead
  -h, --help   show this help
`,
  unkill: `Usage: pnpm flags unkill

Turns the kill switch off: routes follow the other flags again.

Options:
  -h, --help   show this help
`,
  history: `Usage: pnpm flags history [flag] [--limit N] [--json]

Prints the changes of one flag, or of every migration flag, newest first,
from Unleash's event log: when, who, which flag, and what changed (enabled
or disabled, rollout old % → new %). Every change is there, whether made by
\`pnpm flags\`, by a \`pnpm strangler\` move, by the dashboard or by hand in
the Unleash UI. WHO is the user of the token that made the change: a
personal access token names its person; the shared admin API token is
"admin". A \`pnpm strangler\` move also records who asked and why in
\`pnpm strangler history <context>\`.

Options:
  --limit N    how many changes, 1 to 1000 (default 20)
  --json       print the changes as JSON
  -h, --help   show this help

Examples:
  pnpm flags history
  pnpm flags history users.reads --limit 50
`,
  init: `Usage: pnpm flags init

Creates every flag that is missing in Unleash, disabled, with one
flexibleRollout strategy (stickiness userId, groupId the flag's name):
rollout 100 % for killswitch and *.writes (enabling them means all),
0 % for *.shadow and *.reads (enabling them moves nobody until \`set\`).
Flags that exist are left as they are. Safe to run any time.

Options:
  -h, --help   show this help
`,
};
