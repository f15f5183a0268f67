import type { NoiseRule } from './diff.ts';

/**
 * Declared, documented noise for the shadow diff, by route. Every entry is a
 * difference we expect between a correct service and the monolith; anything
 * not listed here counts as a mismatch.
 */
export const NOISE_RULES: Readonly<Record<string, NoiseRule>> = {
  // The products service ranks search matches by relevance (full-text rank),
  // the monolith lists them by id; both return the same matches (ADR 0013).
  // Cursors are each side's own opaque format.
  'GET /api/products/search': { rankedPage: { items: 'items', next: 'nextCursor', key: 'id' } },
};
