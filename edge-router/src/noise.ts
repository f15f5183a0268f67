import type { NoiseRule } from './diff.ts';

/**
 * Declared, documented noise for the shadow diff, by route. Every entry is a
 * difference we expect between a correct service and the monolith; anything
 * not listed here counts as a mismatch.
 */
export const NOISE_RULES: Readonly<Record<string, NoiseRule>> = {};
