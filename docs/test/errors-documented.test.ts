import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { errorCatalog } from '@strangler/foundation';
import { describe, expect, it } from 'vitest';
// Importing the apps registers every error code in the catalog.
import '../../monolith/src/app.ts';
import '../../edge-router/src/app.ts';

const DOC = resolve(import.meta.dirname, '../errors.md');

describe('docs/errors.md', () => {
  it('documents every error code with its HTTP status', async () => {
    const doc = await readFile(DOC, 'utf8');
    const rows = new Map<string, string>();
    for (const line of doc.split('\n')) {
      const match = /^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|([^|]*)\|/.exec(line);
      if (match?.[1]) rows.set(match[1], match[2]?.trim() ?? '');
    }
    const codes = errorCatalog().filter((e) => !e.code.startsWith('TEST_'));
    expect(codes.length).toBeGreaterThan(20);
    const undocumented = codes.filter((e) => !rows.has(e.code)).map((e) => e.code);
    expect(undocumented).toEqual([]);
    const wrongStatus = codes.filter((e) => !rows.get(e.code)?.includes(String(e.statusCode))).map((e) => e.code);
    expect(wrongStatus).toEqual([]);
  });
});
