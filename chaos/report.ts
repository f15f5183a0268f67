import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spliceSectionPart } from '../scripts/lib/benchmarks-doc.ts';
import type { RequestKind, ScenarioResult } from './harness.ts';

/**
 * One table per scenario: printed by the suite, and put into
 * docs/reliability.md between the scenario's markers (the prose around them
 * is written by hand and kept).
 */

const DOC = join(resolve(import.meta.dirname, '..'), 'docs/reliability.md');
const SECTION = 'measured';
const HEADING = 'Last measured';

const n = (x: number) => x.toLocaleString('en-US');
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function failureList(byLabel: Record<string, number>): string {
  const entries = Object.entries(byLabel).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? '' : `: ${entries.map(([label, count]) => `${count} × ${label}`).join(', ')}`;
}

const KIND_NAMES: Record<RequestKind, string> = {
  read: 'reads (GET)',
  login: 'logins (POST, routed as reads)',
  write: 'writes',
};

/** The scenario's table, in Markdown (it reads as well in a terminal). */
export function scenarioTable(r: ScenarioResult, problems: readonly string[]): string {
  const rows: Array<[string, string]> = [
    ['stage', r.stage],
    [
      'requests',
      `${n(r.requests)}${r.failedOver ? ` (${n(r.failedOver)} read(s) failed over to the other router)` : ''}`,
    ],
  ];
  for (const kind of ['read', 'login', 'write'] as const) {
    const { total, failed } = r.byKind[kind];
    const acked = kind === 'write' ? `, ${n(r.ackedWrites)} acknowledged` : '';
    rows.push([KIND_NAMES[kind], `${n(total)}${acked}, ${n(failed)} failed${failureList(r.failures[kind])}`]);
  }
  rows.push(
    ['lost writes', n(r.audit.lost.length)],
    [
      'half-applied writes',
      `${n(r.audit.halfApplied.length)} (writes whose outcome the client could not know: ${n(r.audit.unknown)})`,
    ],
    [
      'slowest refusal',
      r.slowestRefusalMs === 0
        ? 'none (no write or login was refused with a 5xx)'
        : `${s(r.slowestRefusalMs)} from sending to the 5xx that refused a write or login`,
    ],
    ['drift (reconcile)', `${n(r.drift.forward)} monolith → service, ${n(r.drift.reverse)} service → monolith`],
    ['fault lasted', s(r.faultMs)],
    ['recovery', r.recoveryMs === 0 ? '0 s (no request failed after the fault ended)' : s(r.recoveryMs)],
    ['sync caught up', r.syncCaughtUpMs === 0 ? 'at once' : `${s(r.syncCaughtUpMs)} after the fault ended`],
    [
      'reads the service answered',
      `${n(r.serviceReads.before)} before, ${n(r.serviceReads.during)} during, ${n(r.serviceReads.after)} after the fault` +
        (r.serviceReads.before > 0 && r.serviceBackMs !== null
          ? `; the first after it ${s(r.serviceBackMs)} after the fault ended`
          : ''),
    ],
    ...r.notes.map((line): [string, string] => ['note', line]),
    ['holds', problems.length === 0 ? 'yes' : `NO: ${problems.join('; ')}`],
  );
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  return [`### ${r.title}`, '', '| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${cell(v)} |`)].join('\n');
}

/** Puts a scenario's table into docs/reliability.md; the other scenarios' tables and the prose stay. */
export function writeScenarioTable(
  result: ScenarioResult,
  table: string,
  order: readonly string[],
  measuredOn: string,
  file = DOC,
): void {
  const doc = readFileSync(file, 'utf8');
  const body = `${table}\n\n_${measuredOn}; scenario time ${s(result.wallMs)}._`;
  writeFileSync(file, spliceSectionPart(doc, SECTION, HEADING, result.id, body, order, 'chaos'));
}
