import { redactUrl, type TrafficWindow } from '@strangler/foundation';
import { type ContextDefinition, measuredChannel } from '../../stages/contexts.ts';
import type { GateMeasurements } from '../../stages/gate-inputs.ts';
import { describeFailure, isUnavailable, type Measured, measure } from '../../stages/measured.ts';
import {
  type BackfillMeasure,
  type CaptureMeasure,
  countDeadLetters,
  measureBackfill,
  measureCapture,
  measureTraffic,
} from '../../stages/probes.ts';
import type { ReconcileRun } from '../../stages/reconcile-runs.ts';
import type { Stage } from '../../stages/stages.ts';
import type { SyncChannel } from '../../sync/channel.ts';
import type { Control, Session } from './session.ts';

/**
 * Everything measured about one configured context at one stage, in
 * parallel, each number on its own: what the gates read plus what only
 * `status` shows.
 */

export interface ContextMeasurements extends GateMeasurements {
  channel: SyncChannel;
  deadLetters: Measured<number | null>;
}

function measureTrafficOf(session: Session, context: string): Promise<Measured<TrafficWindow>> {
  const { GATE_WINDOW_SECONDS, TRAFFIC_KEY_PREFIX, REDIS_URL } = session.config;
  return measure(async () => {
    try {
      return await measureTraffic(session.redis(), context, GATE_WINDOW_SECONDS, TRAFFIC_KEY_PREFIX);
    } catch (err) {
      // ioredis' own message is about its retry limit; the connection's last error says what is wrong.
      throw new Error(`Redis at ${redactUrl(REDIS_URL)}: ${session.redisProblem() ?? describeFailure(err)}`);
    }
  });
}

/**
 * The last reconcile that counts: one run since capture last began, that is
 * since the context last came back to legacy (earlier ones measured a sync
 * that has since been torn down).
 */
async function lastReconcile(control: Control, context: string, channel: string): Promise<ReconcileRun | null> {
  const since = await control.stages.lastArrivalAt(context, 'legacy');
  return control.runs.last(context, channel, since);
}

export async function measureContext(
  session: Session,
  definition: ContextDefinition,
  stage: Stage,
  control: Measured<Control>,
): Promise<ContextMeasurements> {
  const channel = measuredChannel(definition.channels, stage);
  const db = session.syncDb(channel);
  const [capture, backfill, reconcile, traffic, deadLetters] = await Promise.all([
    measure<CaptureMeasure>(() => measureCapture(channel, db)),
    measure<BackfillMeasure | null>(() => measureBackfill(channel, db)),
    isUnavailable(control)
      ? Promise.resolve(control)
      : measure<ReconcileRun | null>(() => lastReconcile(control, definition.name, channel.name)),
    measureTrafficOf(session, definition.name),
    measure<number | null>(() => countDeadLetters(channel, db.source)),
  ]);
  return { channel, capture, backfill, reconcile, traffic, deadLetters };
}
