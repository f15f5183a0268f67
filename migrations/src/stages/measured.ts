/**
 * A measurement that may be unavailable: `status` shows every field it can
 * and says why for the others, and a gate refuses when a number it needs
 * could not be read, instead of the whole command failing on the first
 * server that is away.
 */

export interface Unavailable {
  unavailable: string;
}

export type Measured<T> = T | Unavailable;

export function isUnavailable<T>(value: Measured<T>): value is Unavailable {
  return typeof value === 'object' && value !== null && 'unavailable' in value;
}

/** One line saying why `err` happened, for "unavailable: <why>". */
export function describeFailure(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // pg and net report a refused connection to localhost as an AggregateError with an empty message.
  if (err instanceof AggregateError && err.errors.length > 0 && !err.message) return describeFailure(err.errors[0]);
  const code = (err as { code?: unknown }).code;
  const message = err.message.split('\n')[0] ?? '';
  if (message) return message;
  return typeof code === 'string' ? code : err.name;
}

export class MeasureTimeoutError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms / 1000} s`);
    this.name = 'MeasureTimeoutError';
  }
}

/** Runs `fn`; a failure or an answer slower than `timeoutMs` becomes `{ unavailable }`. */
export async function measure<T>(fn: () => Promise<T>, timeoutMs = 8_000): Promise<Measured<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new MeasureTimeoutError(timeoutMs)), timeoutMs);
  });
  try {
    return await Promise.race([fn(), timeout]);
  } catch (err) {
    return { unavailable: describeFailure(err) };
  } finally {
    clearTimeout(timer);
  }
}
