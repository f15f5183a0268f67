import { requireSecret } from '@strangler/foundation';
import { ADMIN_TOKEN_DOC } from './config.ts';
import {
  type ContextName,
  FLAG_DEFINITIONS,
  type FlagDefinition,
  KILL_SWITCH,
  resolveFlagName,
  shortFlagName,
} from './definitions.ts';
import {
  InvalidRolloutError,
  UnknownFlagError,
  UnleashApiError,
  UnleashAuthError,
  UnleashUnreachableError,
} from './errors.ts';
import { rolloutPercent } from './snapshot.ts';

/**
 * A small client for the parts of Unleash's admin API the flags CLI needs
 * (endpoints as in unleash-server's openapi: `/api/admin/projects/:project/
 * features/...`). Every flag lives in project `default`, environment
 * `development` (the one the router's client token reads), with ONE
 * `flexibleRollout` strategy whose `rollout` parameter is the flag's %.
 */

export const PROJECT = 'default';
export const ENVIRONMENT = 'development';
export const STICKINESS = 'userId';

/**
 * The % a flag gets when `ensureFlags` creates it. All flags start disabled;
 * the % is what enabling them means. The kill switch and the writes flags are
 * all-or-nothing, so enabling them must mean 100 %; shadow and reads start
 * at 0 % so that enabling one by mistake moves nobody.
 */
export function initialRollout(definition: FlagDefinition): number {
  return definition.kind === 'killswitch' || definition.kind === 'writes' ? 100 : 0;
}

/** Whether a flag only takes 0 or 100 (a split would mean two owners, or half a kill switch). */
export function isAllOrNothing(definition: FlagDefinition): boolean {
  return definition.kind === 'killswitch' || definition.kind === 'writes';
}

export interface FlagChange {
  at: string;
  by: string;
  /** Unleash's event type, e.g. `feature-strategy-update`. */
  event: string;
}

/**
 * One change of a flag, from Unleash's event log: who (the user the admin
 * token belongs to: a personal access token names its person, the shared
 * admin API token is recorded as "admin"), when, and what, old → new.
 */
export interface FlagEvent {
  id: number;
  at: string;
  by: string;
  flag: string;
  /** Unleash's event type, e.g. `feature-strategy-update`. */
  event: string;
  /** Empty for events of the whole flag (created, archived). */
  environment: string;
  /** What changed, old → new where Unleash kept both, e.g. "rollout 10 % → 25 %". */
  change: string;
}

export interface FlagStatus {
  name: string;
  shortName: string;
  kind: FlagDefinition['kind'];
  context: ContextName | null;
  description: string;
  /** False when the flag is not in Unleash yet (`pnpm flags init`); it then counts as off. */
  exists: boolean;
  enabled: boolean;
  /** The rollout stored on the flag's strategy, enabled or not. */
  rolloutPercent: number;
  /** What the router applies: the stored % when enabled, else 0. */
  effectivePercent: number;
  lastChange: FlagChange | null;
  /** Hand edits in the UI that make the router and Unleash disagree. */
  warnings: string[];
  /** The flag's page in the Unleash admin UI. */
  uiUrl: string;
}

export type EnsureAction = 'created' | 'strategy-added' | 'present';

export interface RolloutChange {
  flag: FlagStatus;
  previousPercent: number;
}

interface ApiStrategy {
  id: string;
  name: string;
  title?: string | null;
  disabled?: boolean | null;
  constraints?: unknown[];
  variants?: unknown[];
  segments?: number[];
  parameters?: Record<string, unknown>;
}

interface ApiFeature {
  name: string;
  description?: string | null;
  environments?: Array<{ name: string; enabled: boolean; strategies?: ApiStrategy[] }>;
}

export interface UnleashAdminOptions {
  /** Unleash's base URL, e.g. http://127.0.0.1:4242. */
  url: string;
  /** An admin API token (or a personal access token). */
  token: string;
  /** Per request; default 5 s. */
  timeoutMs?: number;
}

export class UnleashAdminApi {
  readonly url: string;
  readonly #token: string;
  readonly #timeoutMs: number;

  constructor(options: UnleashAdminOptions) {
    this.url = options.url.replace(/\/+$/, '');
    // Production has no development token: an unset one is refused here, before any call.
    this.#token = requireSecret(options.token, 'UNLEASH_ADMIN_TOKEN', ADMIN_TOKEN_DOC);
    this.#timeoutMs = options.timeoutMs ?? 5_000;
  }

  /** Creates every flag of FLAG_DEFINITIONS that is missing (disabled), and a missing rollout strategy. */
  async ensureFlags(): Promise<Array<{ name: string; action: EnsureAction }>> {
    const results = [];
    for (const definition of FLAG_DEFINITIONS) {
      const { action } = await this.#ensureFlag(definition);
      results.push({ name: definition.name, action });
    }
    return results;
  }

  async listFlags(): Promise<FlagStatus[]> {
    return Promise.all(FLAG_DEFINITIONS.map((definition) => this.#status(definition)));
  }

  /** One flag by full or short name; UnknownFlagError when it is not ours. */
  async getFlag(name: string): Promise<FlagStatus> {
    return this.#status(this.#definition(name));
  }

  /**
   * The changes of one flag, or of all of ours, newest first, from Unleash's
   * event search (`GET /api/admin/search/events`, unleash-server 6+).
   */
  async history(options: { flag?: string; limit?: number } = {}): Promise<FlagEvent[]> {
    const names = options.flag ? [this.#definition(options.flag).name] : FLAG_DEFINITIONS.map((d) => d.name);
    const query = new URLSearchParams({
      feature: names.length === 1 ? `IS:${names[0]}` : `IS_ANY_OF:${names.join(',')}`,
      limit: String(options.limit ?? 20),
    });
    const { data } = await this.#call('GET', `/api/admin/search/events?${query}`);
    const events = (data as { events?: ApiEvent[] } | null)?.events;
    if (!Array.isArray(events)) {
      throw new UnleashApiError('GET', '/api/admin/search/events', 200, 'no event list; is Unleash older than 6.0?');
    }
    return events.map(flagEventOf);
  }

  async setRollout(name: string, percent: number): Promise<RolloutChange> {
    const definition = this.#definition(name);
    checkRollout(definition, percent);
    const { strategy } = await this.#ensureFlag(definition);
    const previousPercent = storedRollout(strategy);
    await this.#call(
      'PUT',
      `${this.#featurePath(definition.name)}/environments/${ENVIRONMENT}/strategies/${encodeURIComponent(strategy.id)}`,
      {
        name: 'flexibleRollout',
        ...(strategy.title ? { title: strategy.title } : {}),
        disabled: false,
        constraints: strategy.constraints ?? [],
        variants: strategy.variants ?? [],
        // Sets stickiness and groupId back to what the router hashes with, should someone have changed them.
        parameters: {
          ...strategy.parameters,
          rollout: String(percent),
          stickiness: STICKINESS,
          groupId: definition.name,
        },
      },
    );
    return { flag: await this.#status(definition), previousPercent };
  }

  async enable(name: string): Promise<FlagStatus> {
    const definition = this.#definition(name);
    // A flag without strategies would be enabled by Unleash with a 100 % default one: ensure ours first.
    await this.#ensureFlag(definition);
    await this.#call('POST', `${this.#featurePath(definition.name)}/environments/${ENVIRONMENT}/on`);
    return this.#status(definition);
  }

  async disable(name: string): Promise<FlagStatus> {
    const definition = this.#definition(name);
    await this.#ensureFlag(definition);
    await this.#call('POST', `${this.#featurePath(definition.name)}/environments/${ENVIRONMENT}/off`);
    return this.#status(definition);
  }

  /**
   * On: every route goes to the monolith, whatever the other flags say; they
   * keep their values, so turning it off restores exactly what was before.
   */
  async killSwitch(on: boolean): Promise<FlagStatus> {
    if (!on) return this.disable(KILL_SWITCH);
    const definition = this.#definition(KILL_SWITCH);
    const { strategy } = await this.#ensureFlag(definition);
    if (storedRollout(strategy) !== 100) await this.setRollout(KILL_SWITCH, 100);
    return this.enable(KILL_SWITCH);
  }

  #definition(name: string): FlagDefinition {
    const definition = resolveFlagName(name);
    if (!definition) throw new UnknownFlagError(name);
    return definition;
  }

  #featurePath(name: string): string {
    return `/api/admin/projects/${PROJECT}/features/${encodeURIComponent(name)}`;
  }

  async #feature(name: string): Promise<ApiFeature | null> {
    const { status, data } = await this.#call('GET', this.#featurePath(name), undefined, { missingIsNull: true });
    return status === 404 ? null : (data as ApiFeature);
  }

  async #ensureFlag(definition: FlagDefinition): Promise<{ action: EnsureAction; strategy: ApiStrategy }> {
    let feature = await this.#feature(definition.name);
    let action: EnsureAction = 'present';
    if (!feature) {
      await this.#call('POST', `/api/admin/projects/${PROJECT}/features`, {
        name: definition.name,
        description: definition.description,
        type: definition.kind === 'killswitch' ? 'kill-switch' : 'release',
      });
      feature = { name: definition.name, environments: [] };
      action = 'created';
    }
    const existing = ourStrategy(definition, strategiesOf(feature));
    if (existing) return { action, strategy: existing };
    const { data } = await this.#call(
      'POST',
      `${this.#featurePath(definition.name)}/environments/${ENVIRONMENT}/strategies`,
      {
        name: 'flexibleRollout',
        constraints: [],
        parameters: { rollout: String(initialRollout(definition)), stickiness: STICKINESS, groupId: definition.name },
      },
    );
    return { action: action === 'created' ? 'created' : 'strategy-added', strategy: data as ApiStrategy };
  }

  async #status(definition: FlagDefinition): Promise<FlagStatus> {
    const [feature, lastChange] = await Promise.all([
      this.#feature(definition.name),
      this.#lastChange(definition.name),
    ]);
    const base = {
      name: definition.name,
      shortName: shortFlagName(definition.name),
      kind: definition.kind,
      context: definition.context,
      description: definition.description,
      uiUrl: `${this.url}/projects/${PROJECT}/features/${encodeURIComponent(definition.name)}`,
    };
    if (!feature) {
      return {
        ...base,
        exists: false,
        enabled: false,
        rolloutPercent: 0,
        effectivePercent: 0,
        lastChange,
        warnings: [],
      };
    }
    const environment = feature.environments?.find((e) => e.name === ENVIRONMENT);
    const strategies = strategiesOf(feature);
    const active = strategies.filter((s) => s.disabled !== true);
    const ours = ourStrategy(definition, strategies);
    const enabled = environment?.enabled === true;
    // The same function the router's snapshot uses, so `list` shows what the router does.
    const effectivePercent = rolloutPercent({ name: definition.name, enabled, strategies: active });
    return {
      ...base,
      exists: true,
      enabled,
      rolloutPercent: ours ? storedRollout(ours) : 0,
      effectivePercent,
      lastChange,
      warnings: driftWarnings(definition, strategies, ours),
    };
  }

  async #lastChange(name: string): Promise<FlagChange | null> {
    const query = new URLSearchParams({ feature: `IS:${name}`, limit: '1' });
    const { data } = await this.#call('GET', `/api/admin/search/events?${query}`);
    const event = (data as { events?: Array<{ createdAt?: string; createdBy?: string; type?: string }> }).events?.[0];
    if (!event?.createdAt) return null;
    return { at: event.createdAt, by: event.createdBy ?? 'unknown', event: event.type ?? 'unknown' };
  }

  async #call(
    method: string,
    path: string,
    body?: unknown,
    { missingIsNull = false } = {},
  ): Promise<{ status: number; data: unknown }> {
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers: {
          Authorization: this.#token,
          Accept: 'application/json',
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      throw new UnleashUnreachableError(this.url, networkReason(err, this.#timeoutMs), { cause: err });
    }
    const text = await res.text();
    let data: unknown = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      throw new UnleashApiError(method, path, res.status, `not JSON; is UNLEASH_URL (${this.url}) an Unleash server?`);
    }
    if (res.status === 401 || res.status === 403) {
      throw new UnleashAuthError(this.url, res.status, 'UNLEASH_ADMIN_TOKEN', errorDetail(data));
    }
    if (res.status === 404 && missingIsNull) {
      // Unleash says "NotFoundError"; anything else answering 404 is not Unleash.
      if ((data as { name?: unknown } | null)?.name === 'NotFoundError') return { status: 404, data };
      throw new UnleashApiError(method, path, 404, `is UNLEASH_URL (${this.url}) an Unleash server?`);
    }
    if (!res.ok) throw new UnleashApiError(method, path, res.status, errorDetail(data));
    return { status: res.status, data };
  }
}

interface ApiEvent {
  id?: number;
  type?: string;
  createdBy?: string;
  createdAt?: string;
  featureName?: string | null;
  environment?: string | null;
  label?: string | null;
  data?: { parameters?: Record<string, unknown>; name?: string } | null;
  preData?: { parameters?: Record<string, unknown>; name?: string } | null;
}

/** The rollout % a strategy event's data or preData holds, when it is a flexibleRollout. */
function rolloutOf(strategy: ApiEvent['data']): string | null {
  const rollout = strategy?.parameters?.rollout;
  return typeof rollout === 'string' || typeof rollout === 'number' ? `${rollout} %` : null;
}

/** An Unleash event as a flag change: what it did, old → new where Unleash kept both. Pure. */
export function flagEventOf(event: ApiEvent): FlagEvent {
  const type = event.type ?? 'unknown';
  const before = rolloutOf(event.preData);
  const after = rolloutOf(event.data);
  let change: string;
  switch (type) {
    case 'feature-created':
      change = 'created';
      break;
    case 'feature-environment-enabled':
      change = 'disabled → enabled';
      break;
    case 'feature-environment-disabled':
      change = 'enabled → disabled';
      break;
    case 'feature-strategy-add':
      change = `${event.data?.name ?? 'a'} strategy added${after ? ` at ${after}` : ''}`;
      break;
    case 'feature-strategy-remove':
      change = `${event.preData?.name ?? 'a'} strategy removed${before ? ` (was ${before})` : ''}`;
      break;
    case 'feature-strategy-update':
      change =
        before && after && before !== after
          ? `rollout ${before} → ${after}`
          : `${event.data?.name ?? 'strategy'} updated${after ? ` (rollout ${after})` : ''}`;
      break;
    default:
      change = event.label ?? type;
  }
  return {
    id: event.id ?? 0,
    at: event.createdAt ?? '',
    by: event.createdBy ?? 'unknown',
    flag: event.featureName ?? '',
    event: type,
    environment: event.environment ?? '',
    change,
  };
}

export function checkRollout(definition: FlagDefinition, percent: number): void {
  if (!Number.isInteger(percent) || percent < 0 || percent > 100) {
    throw new InvalidRolloutError(`a rollout is a whole number from 0 to 100, got ${percent}`);
  }
  if (isAllOrNothing(definition) && percent !== 0 && percent !== 100) {
    const why =
      definition.kind === 'writes'
        ? `the ${definition.context} writes have one owner at a time`
        : 'the kill switch is on or off';
    throw new InvalidRolloutError(
      `${definition.name} is all or nothing (${why}): set 0 or 100, or use enable/disable; got ${percent}`,
    );
  }
}

function strategiesOf(feature: ApiFeature): ApiStrategy[] {
  return feature.environments?.find((e) => e.name === ENVIRONMENT)?.strategies ?? [];
}

/** The flexibleRollout strategy that holds the flag's %: the one grouped by the flag's name, else the first. */
function ourStrategy(definition: FlagDefinition, strategies: ApiStrategy[]): ApiStrategy | undefined {
  const rollouts = strategies.filter((s) => s.name === 'flexibleRollout');
  return rollouts.find((s) => s.parameters?.groupId === definition.name) ?? rollouts[0];
}

function storedRollout(strategy: ApiStrategy): number {
  return rolloutPercent({ name: '', enabled: true, strategies: [strategy] });
}

function driftWarnings(definition: FlagDefinition, strategies: ApiStrategy[], ours: ApiStrategy | undefined): string[] {
  const warnings: string[] = [];
  if (!ours) warnings.push('no flexibleRollout strategy: run `pnpm flags init` to add one');
  const others = strategies.filter((s) => s !== ours && s.disabled !== true);
  if (others.length > 0) {
    warnings.push(
      `other strategies (${others.map((s) => s.name).join(', ')}) also apply; the router takes the largest %`,
    );
  }
  if (ours) {
    const { stickiness, groupId } = ours.parameters ?? {};
    if (stickiness !== STICKINESS || groupId !== definition.name) {
      warnings.push(
        `stickiness/groupId are ${String(stickiness)}/${String(groupId)}, the router uses ${STICKINESS}/${definition.name}; \`pnpm flags set\` resets them`,
      );
    }
    if ((ours.constraints?.length ?? 0) > 0 || (ours.segments?.length ?? 0) > 0) {
      warnings.push('its strategy has constraints or segments, which the router ignores');
    }
    if (ours.disabled === true) warnings.push('its strategy is disabled in Unleash; `pnpm flags set` enables it');
  }
  return warnings;
}

function errorDetail(data: unknown): string {
  const body = data as { message?: unknown; details?: Array<{ message?: unknown }> } | null;
  const message = body?.details?.[0]?.message ?? body?.message;
  return typeof message === 'string' ? message : '';
}

function networkReason(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`;
  const code = e.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND') return 'unknown host';
  return code ?? e.cause?.message ?? (err as Error).message;
}
