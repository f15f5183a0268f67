import { cpus } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChaosStack, runScenario, type ScenarioResult, startChaosStack } from './harness.ts';
import { invariantProblems } from './invariants.ts';
import { scenarioTable, writeScenarioTable } from './report.ts';
import { SCENARIOS } from './scenarios.ts';

/**
 * The chaos suite (`pnpm test:chaos`): the users extraction with every process
 * real, one fault per scenario under live load, the invariants checked after
 * each (scenarios.ts, invariants.ts). Each scenario prints its table and
 * writes it into docs/reliability.md.
 */

let stack: ChaosStack;
const started = Date.now();
const results: ScenarioResult[] = [];
const measuredOn = `measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} core(s)`;

beforeAll(async () => {
  stack = await startChaosStack();
  console.log(`[chaos] stack up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}, 180_000);

afterAll(async () => {
  await stack?.destroy();
  console.log(
    `[chaos] ${results.length} scenario(s) in ${((Date.now() - started) / 1000).toFixed(1)} s: ` +
      results.map((r) => `${r.id} ${(r.wallMs / 1000).toFixed(1)} s`).join(', '),
  );
}, 120_000);

describe('the users extraction under faults', () => {
  for (const scenario of SCENARIOS) {
    it(`${scenario.title}: nothing acknowledged lost, nothing half-applied, no drift, reads served`, async () => {
      const result = await runScenario(stack, scenario);
      results.push(result);
      const problems = [...invariantProblems(result), ...(scenario.promises?.(result) ?? [])];
      const table = scenarioTable(result, problems);
      console.log(`\n${table}\n`);
      writeScenarioTable(
        result,
        table,
        SCENARIOS.map((s) => s.id),
        measuredOn,
      );
      expect(problems).toEqual([]);
    }, 240_000);
  }
});
