import type { FenceHold, MemberView, TrafficWindow } from '@strangler/foundation';
import { type ContextName, isContextName } from '../../stages/contexts.ts';
import { evaluateGate } from '../../stages/gate-inputs.ts';
import { describeNumbers, type GuardVerdict } from '../../stages/guard.ts';
import { assessReads } from '../../stages/guard-run.ts';
import { isUnavailable, type Measured, measure } from '../../stages/measured.ts';
import { flagsFromState, flagsMismatch, planAdvance } from '../../stages/plan.ts';
import { type BackfillMeasure, type CaptureMeasure, measureFlags } from '../../stages/probes.ts';
import type { ReconcileRun } from '../../stages/reconcile-runs.ts';
import { nextStage, type Stage, type StageFlags } from '../../stages/stages.ts';
import type { ContextRecord, HistoryEntry } from '../../stages/store.ts';
import { gatePolicyOf } from './config.ts';
import { ago, count, duration, percent, timestamp } from './format.ts';
import { guardPolicyOf } from './guard.ts';
import { describeHistoryEntry } from './history.ts';
import { measureContext } from './measure-context.ts';
import type { Print } from './output.ts';
import type { Session } from './session.ts';

/**
 * `strangler status [context] [--json]`: every context's stage and the
 * numbers behind its next gate. A server that is away makes its fields
 * "unavailable: <why>"; the command itself still answers.
 */

export interface FlagsView extends StageFlags {
  killSwitchOn: boolean;
  /** How the flags differ from what the stage sets (someone changed them by hand). */
  mismatch: string[];
  flags: Array<{ name: string; exists: boolean; enabled: boolean; rolloutPercent: number; warnings: string[] }>;
}

/** The data flow of the current stage (legacy: what advancing starts). */
export interface SyncView {
  channel: string;
  capture: Measured<CaptureMeasure>;
  /** Null: never started. */
  backfill: Measured<BackfillMeasure | null>;
  /** Null: none since capture began. */
  reconcile: Measured<ReconcileRun | null>;
  /** Null: the dead-letter table does not exist (capture never installed). */
  deadLetters: Measured<number | null>;
}

export interface ContextStatus {
  context: ContextName;
  stage: Measured<ContextRecord>;
  flags: Measured<FlagsView>;
  sync: SyncView;
  traffic: Measured<TrafficWindow>;
  /** The next forward move and whether its gate is met now; null at the end. */
  next: { stage: Stage; ok: boolean; reasons: string[] } | null;
  history: Measured<HistoryEntry[]>;
  /** The guarded rollout: its verdict now, and its last setback (docs/adr/0015). */
  guard: Measured<{ verdict: GuardVerdict; lastSetback: HistoryEntry | null }>;
}

export interface FenceView {
  /** The routers that report to the write fence (a router without REDIS_URL is not among them). */
  routers: Array<Pick<MemberView, 'id' | 'pid' | 'ageMs' | 'stale' | 'owners'>>;
  /** Writes held right now, by a cutover in progress. */
  holds: FenceHold[];
}

export interface StatusReport {
  at: Date;
  windowSeconds: number;
  contexts: ContextStatus[];
  fence: Measured<FenceView>;
}

async function flagsView(session: Session, context: ContextName, record: Measured<ContextRecord>) {
  return measure<FlagsView>(async () => {
    const measured = await measureFlags(session.unleash(), context);
    const actual = flagsFromState(measured.states);
    return {
      ...actual,
      killSwitchOn: measured.killSwitchOn,
      mismatch: isUnavailable(record) ? [] : flagsMismatch(record.stage, record.canaryPercent, actual),
      flags: measured.flags.map((f) => ({
        name: f.name,
        exists: f.exists,
        enabled: f.enabled,
        rolloutPercent: f.rolloutPercent,
        warnings: f.warnings,
      })),
    };
  });
}

export async function collectStatus(session: Session, only: ContextName | null): Promise<StatusReport> {
  const control = await measure(() => session.control());
  const names = only ? [only] : (Object.keys(session.contexts).filter(isContextName) as ContextName[]);
  const contexts = await Promise.all(
    names.map(async (name): Promise<ContextStatus> => {
      const definition = session.contexts[name];
      const record: Measured<ContextRecord> = isUnavailable(control)
        ? control
        : await measure(() => control.stages.get(name));
      const history: Measured<HistoryEntry[]> = isUnavailable(control)
        ? control
        : await measure(() => control.stages.history(name, 5));
      const flags = await flagsView(session, name, record);
      let guard: ContextStatus['guard'];
      if (isUnavailable(control)) guard = control;
      else if (isUnavailable(record)) guard = record;
      else {
        const policy = guardPolicyOf(session.config);
        const deps = {
          db: control.db,
          redis: session.redis(),
          trafficPrefix: session.config.TRAFFIC_KEY_PREFIX,
          policy,
        };
        guard = await measure(async () => ({
          verdict: await assessReads(deps, record),
          lastSetback: (await control.stages.history(name, 1, 'guard'))[0] ?? null,
        }));
      }
      const base = { context: name, stage: record, flags, history, guard };
      // With the stage unknown, measure the forward channel: what legacy → sync starts.
      const stage = isUnavailable(record) ? 'legacy' : record.stage;
      const m = await measureContext(session, definition, stage, control);
      const to = nextStage(stage);
      let next: ContextStatus['next'] = null;
      if (to && !isUnavailable(record)) {
        const plan = planAdvance(stage, record.canaryPercent);
        const gate = evaluateGate(stage, m, gatePolicyOf(session.config));
        next = plan.ok
          ? { stage: to, ok: gate.ok, reasons: gate.reasons }
          : { stage: to, ok: false, reasons: [plan.refusal.replace(/; nothing was changed$/, '')] };
      }
      // The channel by name only: its URLs may carry passwords.
      const { capture, backfill, reconcile, traffic, deadLetters } = m;
      const sync = { channel: m.channel.name, capture, backfill, reconcile, deadLetters };
      return { ...base, sync, traffic, next };
    }),
  );
  const fence = await measure<FenceView>(async () => {
    const coordinator = session.fence();
    const members = await coordinator.members();
    const holds = await Promise.all(names.map((n) => coordinator.currentHold(n)));
    return {
      routers: members.map(({ id, pid, ageMs, stale, owners }) => ({ id, pid, ageMs, stale, owners })),
      holds: holds.filter((h): h is FenceHold => h !== null),
    };
  });
  return { at: new Date(), windowSeconds: session.config.GATE_WINDOW_SECONDS, contexts, fence };
}

function renderFence(f: FenceView, now: number): string[] {
  const lines = [
    f.routers.length === 0
      ? 'none report to the write fence: a cutover holds no router (routers need REDIS_URL)'
      : `${f.routers.length} report to the write fence`,
  ];
  for (const r of f.routers.filter((r) => r.stale)) {
    lines.push(`! ${r.id} (pid ${r.pid}) last reported ${duration(r.ageMs / 1000)} ago: a cutover waits for it`);
  }
  for (const h of f.holds) {
    lines.push(`! writes of ${h.context} held by ${h.by} for ${duration((now - h.since) / 1000)}`);
  }
  return lines;
}

// ---- rendering -------------------------------------------------------------------------------

const unavailable = (u: { unavailable: string }): string => `unavailable: ${u.unavailable}`;

function show<T>(value: Measured<T>, render: (v: T) => string): string {
  return isUnavailable(value) ? unavailable(value) : render(value);
}

function renderFlags(f: FlagsView): string {
  let text = `shadow ${f.shadowPercent} % · reads ${f.readPercent} % · writes → ${f.writeOwner}`;
  if (f.killSwitchOn) text += ' · KILL SWITCH ON (everything goes to the monolith)';
  return text;
}

function renderCapture(c: CaptureMeasure): string {
  if (!c.installed || !c.lag) return 'not installed';
  const { oldestUnappliedSeconds, unappliedRows, unrelayedRows } = c.lag;
  if (unappliedRows === 0) return 'installed; lag 0 (nothing waiting)';
  return `installed; lag ${duration(oldestUnappliedSeconds)}, ${count(unappliedRows)} rows waiting (${count(unrelayedRows)} not relayed yet)`;
}

function renderBackfill(b: BackfillMeasure | null): string {
  if (!b) return 'not started';
  const tables = b.tables.map(
    (t) =>
      `${t.table} ${count(t.rowsDone)}/${t.rowsTotal === null ? '?' : count(t.rowsTotal)}${t.finished ? ' finished' : ''}`,
  );
  return `${b.done ? 'done' : 'in progress'}: ${tables.join(', ')}`;
}

function renderReconcile(r: ReconcileRun | null, now: number): string {
  if (!r) return 'none since capture began';
  const left = r.drift - r.repaired;
  let text = `drift ${r.drift}`;
  if (r.drift > 0) text += ` (${r.missing} missing, ${r.extra} extra, ${r.different} different)`;
  if (r.repaired > 0) text += `, ${r.repaired} repaired, ${left} left`;
  return `${text}, ${timestamp(r.ranAt)} (${ago(r.ranAt, now)}) by ${r.actor}`;
}

function renderShadow(t: TrafficWindow): string {
  const s = t.shadow;
  if (s.samples === 0) return 'no comparisons in the window';
  return `${percent(s.consistency)} consistent over ${count(s.samples)} comparisons (${count(s.mismatch)} mismatches, ${count(s.error)} errors)`;
}

function renderSide(name: string, s: TrafficWindow['service']): string {
  if (s.requests === 0) return `${name} no requests`;
  return `${name} ${count(s.requests)} requests, ${percent(s.errorRate)} errors, p99 ≤ ${s.p99Ms === Number.POSITIVE_INFINITY ? '∞' : s.p99Ms} ms`;
}

function renderGuard(v: GuardVerdict): string {
  switch (v.kind) {
    case 'idle':
      return `not guarded: ${v.reason}`;
    case 'waiting':
      return `watching, too few reads to judge: ${v.reason}`;
    case 'healthy':
      return `healthy: ${describeNumbers(v.numbers)}`;
    case 'worse':
      return `WORSE: ${v.reasons.join('; ')}; a running guard sets the reads back (\`pnpm strangler guard --watch\`)`;
  }
}

function renderContext(c: ContextStatus, report: StatusReport, print: Print): void {
  const now = report.at.getTime();
  const stage = show(
    c.stage,
    (r) =>
      `${r.stage}${r.stage === 'canary' ? ` at ${r.canaryPercent} %` : ''} (since ${timestamp(r.updatedAt)}, by ${r.updatedBy})`,
  );
  print(`${c.context}: ${stage}`);
  const row = (key: string, value: string) => print(`  ${key.padEnd(14)}  ${value}`);
  row('flags', show(c.flags, renderFlags));
  if (!isUnavailable(c.flags)) for (const m of c.flags.mismatch) row('', `! ${m}`);
  row('channel', c.sync.channel);
  row('capture', show(c.sync.capture, renderCapture));
  row('backfill', show(c.sync.backfill, renderBackfill));
  row(
    'last reconcile',
    show(c.sync.reconcile, (r) => renderReconcile(r, now)),
  );
  row(
    'dead letters',
    show(c.sync.deadLetters, (n) => (n === null ? 'none (capture never installed)' : count(n))),
  );
  const window = `last ${duration(report.windowSeconds)}`;
  row(
    'shadow',
    show(c.traffic, (t) => `${renderShadow(t)} (${window})`),
  );
  row(
    'traffic',
    show(c.traffic, (t) => `${renderSide('service', t.service)} · ${renderSide('monolith', t.monolith)}`),
  );
  row(
    'guard',
    show(c.guard, (g) => renderGuard(g.verdict)),
  );
  if (!isUnavailable(c.guard) && c.guard.lastSetback) {
    const h = c.guard.lastSetback;
    row(
      '',
      `last setback ${timestamp(h.at)} (${ago(h.at, now)}): ${h.fromStage} → ${h.toStage} at ${h.canaryPercent} %`,
    );
    // The reason carries the numbers the guard judged on.
    row('', `  ${h.reason}`);
  }
  if (c.next) {
    row('next', `${c.next.stage}: ${c.next.ok ? 'gate met' : 'gate not met'}`);
    for (const reason of c.next.reasons) row('', `- ${reason}`);
  }
  if (isUnavailable(c.history)) {
    row('history', unavailable(c.history));
  } else if (c.history.length === 0) {
    row('history', 'no moves yet');
  } else {
    print('  history');
    for (const h of c.history) print(`    ${describeHistoryEntry(h)}`);
  }
}

export async function statusCommand(
  session: Session,
  args: { context: ContextName | null; json: boolean },
  print: Print,
): Promise<void> {
  const report = await collectStatus(session, args.context);
  if (args.json) return print(JSON.stringify(report, null, 2));
  report.contexts.forEach((c, i) => {
    if (i > 0) print('');
    renderContext(c, report, print);
  });
  print('');
  const [first = '', ...rest] = isUnavailable(report.fence)
    ? [unavailable(report.fence)]
    : renderFence(report.fence, report.at.getTime());
  print(`routers           ${first}`);
  for (const line of rest) print(`                  ${line}`);
}
