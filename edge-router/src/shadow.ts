import { redactDeep } from '@strangler/foundation';
import { type Answer, type Comparison, compareAnswers, type NoiseRule } from './diff.ts';

/** One recorded shadow mismatch, for the admin API and the dashboard. */
export interface ShadowMismatch {
  at: string;
  route: string;
  requestId: string;
  paths: string[];
  monolith: Answer;
  service: Answer | { error: string };
}

export interface ShadowStats {
  matches: number;
  mismatches: number;
  errors: number;
  skipped: number;
}

/**
 * Keeps the shadow results of this process: counters per route and the most
 * recent mismatches with their diffs (a bounded ring, newest first). Both
 * answers are stored redacted (foundation's redact.ts): a service that wrongly
 * answered with a password hash or a token shows up as a mismatch at that
 * path, with the value itself never reaching the admin API or the dashboard.
 */
export class ShadowRecorder {
  readonly #recent: ShadowMismatch[] = [];
  readonly #capacity: number;
  readonly stats = new Map<string, ShadowStats>();

  constructor(capacity = 100) {
    this.#capacity = capacity;
  }

  #statsFor(route: string): ShadowStats {
    let s = this.stats.get(route);
    if (!s) {
      s = { matches: 0, mismatches: 0, errors: 0, skipped: 0 };
      this.stats.set(route, s);
    }
    return s;
  }

  compare(route: string, requestId: string, monolith: Answer, service: Answer, noise?: NoiseRule): Comparison {
    const result = compareAnswers(monolith, service, noise);
    const s = this.#statsFor(route);
    if (result.match) s.matches++;
    else {
      s.mismatches++;
      this.#push({ at: new Date().toISOString(), route, requestId, paths: result.paths, monolith, service });
    }
    return result;
  }

  recordError(route: string, requestId: string, monolith: Answer, error: string): void {
    this.#statsFor(route).errors++;
    this.#push({ at: new Date().toISOString(), route, requestId, paths: ['$error'], monolith, service: { error } });
  }

  recordSkipped(route: string): void {
    this.#statsFor(route).skipped++;
  }

  recent(limit = 50): ShadowMismatch[] {
    return this.#recent.slice(0, limit);
  }

  #push(mismatch: ShadowMismatch): void {
    this.#recent.unshift({
      ...mismatch,
      monolith: redactDeep(mismatch.monolith),
      service: redactDeep(mismatch.service),
    });
    if (this.#recent.length > this.#capacity) this.#recent.pop();
  }
}

/** Parses an upstream body as JSON when it is JSON, else keeps it as text. */
export function answerOf(status: number, contentType: string | string[] | undefined, body: Buffer): Answer {
  const type = Array.isArray(contentType) ? contentType[0] : contentType;
  if (type?.includes('json')) {
    try {
      return { status, body: JSON.parse(body.toString('utf8')) };
    } catch {
      // fall through: compare as text
    }
  }
  return { status, body: body.toString('utf8') };
}
