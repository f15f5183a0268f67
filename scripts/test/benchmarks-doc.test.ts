import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spliceSection, spliceSectionPart, writeBenchmarkSectionPart } from '../lib/benchmarks-doc.ts';

const DOC = resolve(import.meta.dirname, '../../docs/benchmarks.md');
const CONTEXTS = ['users', 'products'];

const doc = (sync: string): string =>
  [
    '# Benchmarks',
    '',
    '## Edge router',
    '',
    '<!-- bench:router:begin -->',
    'router table',
    '<!-- bench:router:end -->',
    '',
    '## Sync engine',
    '',
    'Prose about the sync benchmark.',
    '',
    sync,
    '',
  ].join('\n');

const part = (name: string, body: string): string =>
  `<!-- bench:sync:${name}:begin -->\n${body}\n<!-- bench:sync:${name}:end -->`;
const section = (...parts: string[]): string =>
  `<!-- bench:sync:begin -->\n${parts.join('\n\n')}\n<!-- bench:sync:end -->`;

describe('spliceSection', () => {
  it('replaces its own section and leaves the rest of the document as it is', () => {
    const before = doc(section('old'));
    expect(spliceSection(before, 'sync', 'Sync engine', 'new')).toBe(doc(section('new')));
    expect(spliceSection(before, 'router', 'Edge router', 'router 2')).toBe(before.replace('router table', 'router 2'));
  });

  it('adds a section missing from the document at the end, under its heading', () => {
    const out = spliceSection('# Benchmarks\n', 'sync', 'Sync engine', 'body');
    expect(out).toBe('# Benchmarks\n\n## Sync engine\n\n<!-- bench:sync:begin -->\nbody\n<!-- bench:sync:end -->\n');
  });
});

describe('spliceSectionPart', () => {
  const both = doc(section(part('users', 'users 1'), part('products', 'products 1')));

  it('rewrites only the part measured: a users run keeps the products part, and the other way round', () => {
    expect(spliceSectionPart(both, 'sync', 'Sync engine', 'users', 'users 2', CONTEXTS)).toBe(
      doc(section(part('users', 'users 2'), part('products', 'products 1'))),
    );
    expect(spliceSectionPart(both, 'sync', 'Sync engine', 'products', 'products 2', CONTEXTS)).toBe(
      doc(section(part('users', 'users 1'), part('products', 'products 2'))),
    );
  });

  it('puts a part that is not there yet in its place in the order', () => {
    const usersOnly = doc(section(part('users', 'users 1')));
    const productsOnly = doc(section(part('products', 'products 1')));
    expect(spliceSectionPart(usersOnly, 'sync', 'Sync engine', 'products', 'products 1', CONTEXTS)).toBe(both);
    expect(spliceSectionPart(productsOnly, 'sync', 'Sync engine', 'users', 'users 1', CONTEXTS)).toBe(both);
  });

  it('creates the section when the document has none', () => {
    const out = spliceSectionPart('# Benchmarks\n', 'sync', 'Sync engine', 'products', 'products 1', CONTEXTS);
    expect(out).toBe(`# Benchmarks\n\n## Sync engine\n\n${section(part('products', 'products 1'))}\n`);
  });

  it('gives the same document when a part is written twice with the same body', () => {
    const once = spliceSectionPart(both, 'sync', 'Sync engine', 'users', 'users 2', CONTEXTS);
    expect(spliceSectionPart(once, 'sync', 'Sync engine', 'users', 'users 2', CONTEXTS)).toBe(once);
  });

  it('refuses a part name that would be read as a section marker', () => {
    expect(() => spliceSectionPart(both, 'sync', 'Sync engine', 'end', 'x', CONTEXTS)).toThrow(/cannot name a part/);
  });
});

describe('docs/benchmarks.md', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'benchmarks-doc-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('has a part per context inside the bench:sync section, users first', async () => {
    const text = await readFile(DOC, 'utf8');
    const sync = text.slice(text.indexOf('<!-- bench:sync:begin -->'), text.indexOf('<!-- bench:sync:end -->'));
    const at = CONTEXTS.map((c) => sync.indexOf(`<!-- bench:sync:${c}:begin -->`));
    expect(at.every((i) => i > 0)).toBe(true);
    expect(at).toEqual([...at].sort((a, b) => a - b));
    for (const c of CONTEXTS) expect(sync).toContain(`<!-- bench:sync:${c}:end -->`);
  });

  it('has the router section in two parts, the proxies measured against their peers before the processes', async () => {
    const text = await readFile(DOC, 'utf8');
    const router = text.slice(text.indexOf('<!-- bench:router:begin -->'), text.indexOf('<!-- bench:router:end -->'));
    const at = ['proxies', 'processes'].map((p) => router.indexOf(`<!-- bench:router:${p}:begin -->`));
    expect(at.every((i) => i > 0)).toBe(true);
    expect(at).toEqual([...at].sort((a, b) => a - b));
    for (const p of ['proxies', 'processes']) expect(router).toContain(`<!-- bench:router:${p}:end -->`);
  });

  it('a run of one context, written into a copy, changes that part and nothing else', async () => {
    const original = await readFile(DOC, 'utf8');
    const copy = join(dir, 'benchmarks.md');
    await writeFile(copy, original);
    writeBenchmarkSectionPart('sync', 'Sync engine', 'products', '### Products\n\nmeasured', CONTEXTS, copy);
    const after = await readFile(copy, 'utf8');
    const begin = '<!-- bench:sync:products:begin -->';
    const end = '<!-- bench:sync:products:end -->';
    const outside = (t: string) => t.slice(0, t.indexOf(begin)) + t.slice(t.indexOf(end));
    expect(outside(after)).toBe(outside(original));
    expect(after).toContain(`${begin}\n### Products\n\nmeasured\n${end}`);
  });
});
