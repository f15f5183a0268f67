/**
 * The stage machine of one bounded context (docs/adr/0001): who serves reads,
 * who owns writes, which way data flows, stage by stage. Pure data and
 * functions; the effects of a move (installing capture, setting flags, the
 * write cutover) and where the state is stored live elsewhere.
 */

export const STAGES = ['legacy', 'sync', 'shadow', 'canary', 'reads', 'writes', 'complete'] as const;
export type Stage = (typeof STAGES)[number];

export interface StageShape {
  reads: string;
  writes: 'monolith' | 'service';
  dataFlow: string;
}

export const STAGE_SHAPES: Readonly<Record<Stage, StageShape>> = {
  legacy: { reads: 'monolith', writes: 'monolith', dataFlow: 'none' },
  sync: { reads: 'monolith', writes: 'monolith', dataFlow: 'backfill + capture monolith → service' },
  shadow: { reads: 'monolith (service mirrored, diffed)', writes: 'monolith', dataFlow: 'monolith → service' },
  canary: {
    reads: 'service for N % of users (sticky), else monolith',
    writes: 'monolith',
    dataFlow: 'monolith → service',
  },
  reads: { reads: 'service', writes: 'monolith', dataFlow: 'monolith → service' },
  writes: { reads: 'service', writes: 'service', dataFlow: 'service → monolith (reverse)' },
  complete: { reads: 'service', writes: 'service', dataFlow: 'service → monolith while the monolith still reads' },
};

export function isStage(value: string): value is Stage {
  return (STAGES as readonly string[]).includes(value);
}

/** The stage one step forward, or null at the end. */
export function nextStage(stage: Stage): Stage | null {
  return STAGES[STAGES.indexOf(stage) + 1] ?? null;
}

/** The stage one step back, or null at the start. */
export function previousStage(stage: Stage): Stage | null {
  const i = STAGES.indexOf(stage);
  return i > 0 ? (STAGES[i - 1] as Stage) : null;
}

/** What the flags must say in a stage: the router follows the stage through them. */
export interface StageFlags {
  shadowPercent: number;
  readPercent: number;
  writeOwner: 'monolith' | 'service';
}

export function flagsForStage(stage: Stage, canaryPercent: number, shadowPercent = 100): StageFlags {
  switch (stage) {
    case 'legacy':
    case 'sync':
      return { shadowPercent: 0, readPercent: 0, writeOwner: 'monolith' };
    case 'shadow':
      return { shadowPercent, readPercent: 0, writeOwner: 'monolith' };
    case 'canary':
      // Reads outside the canary keep being compared.
      return { shadowPercent, readPercent: canaryPercent, writeOwner: 'monolith' };
    case 'reads':
      return { shadowPercent: 0, readPercent: 100, writeOwner: 'monolith' };
    case 'writes':
    case 'complete':
      return { shadowPercent: 0, readPercent: 100, writeOwner: 'service' };
  }
}
