import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { errorCatalog } from '@strangler/foundation';
import { describe, expect, it } from 'vitest';
// Importing the app registers every code it can answer with.
import '../src/app.ts';

const DOC = resolve(import.meta.dirname, '../../../docs/errors.md');

describe('the products service error codes', () => {
  it('are all documented in docs/errors.md with their HTTP status', async () => {
    const doc = await readFile(DOC, 'utf8');
    const rows = new Map<string, string>();
    for (const line of doc.split('\n')) {
      const match = /^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|([^|]*)\|/.exec(line);
      if (match?.[1]) rows.set(match[1], match[2]?.trim() ?? '');
    }
    const codes = errorCatalog().filter((e) => !e.code.startsWith('TEST_'));
    expect(codes.map((e) => e.code)).toEqual(
      expect.arrayContaining(['PRODUCTS_INTERNAL_TOKEN', 'INVENTORY_KEY_REUSED']),
    );
    expect(codes.filter((e) => !rows.has(e.code)).map((e) => e.code)).toEqual([]);
    expect(codes.filter((e) => !rows.get(e.code)?.includes(String(e.statusCode))).map((e) => e.code)).toEqual([]);
  });

  it("define ShopCo's products and order codes exactly as the monolith does", async () => {
    // Loading both registers each shared code twice; defineError throws if the two differ.
    await expect(import('@strangler/monolith')).resolves.toBeDefined();
  });
});
