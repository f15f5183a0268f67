/**
 * A circuit breaker per upstream. After `failureThreshold` failures in a row
 * it opens: requests skip the upstream (reads fall back to the monolith,
 * writes fail fast with 503) instead of each waiting out a timeout. After
 * `cooldownMs` one trial request is let through (half-open); its outcome
 * closes or re-opens the breaker. The clock is injected, so the state machine
 * is tested without waiting.
 */

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  failureThreshold: number;
  cooldownMs: number;
  now?: () => number;
}

export class CircuitBreaker {
  readonly #threshold: number;
  readonly #cooldownMs: number;
  readonly #now: () => number;
  #state: BreakerState = 'closed';
  #failures = 0;
  #openedAt = 0;
  #trialInFlight = false;

  constructor({ failureThreshold, cooldownMs, now = Date.now }: BreakerOptions) {
    this.#threshold = failureThreshold;
    this.#cooldownMs = cooldownMs;
    this.#now = now;
  }

  get state(): BreakerState {
    if (this.#state === 'open' && this.#now() - this.#openedAt >= this.#cooldownMs) return 'half-open';
    return this.#state;
  }

  /** Whether a request may go to the upstream now; in half-open, only one trial at a time. */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.#trialInFlight) return false;
    this.#state = 'half-open';
    this.#trialInFlight = true;
    return true;
  }

  recordSuccess(): void {
    this.#trialInFlight = false;
    this.#failures = 0;
    this.#state = 'closed';
  }

  recordFailure(): void {
    this.#trialInFlight = false;
    this.#failures += 1;
    if (this.#state === 'half-open' || this.#failures >= this.#threshold) {
      this.#state = 'open';
      this.#openedAt = this.#now();
    }
  }
}
