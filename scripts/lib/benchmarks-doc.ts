import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const DOC = join(resolve(import.meta.dirname, '../..'), 'docs/benchmarks.md');

/**
 * Puts a benchmark's results into docs/benchmarks.md between its markers
 * (`<!-- bench:<name>:begin -->` … `end`), leaving every other section as it
 * is; a section not there yet is added at the end under `heading`.
 */
export function writeBenchmarkSection(name: string, heading: string, body: string): void {
  const begin = `<!-- bench:${name}:begin -->`;
  const end = `<!-- bench:${name}:end -->`;
  let doc: string;
  try {
    doc = readFileSync(DOC, 'utf8');
  } catch {
    doc = '# Benchmarks\n\nEvery table here is written by the command named above it; do not edit them by hand.\n';
  }
  const section = `${begin}\n${body}\n${end}`;
  if (doc.includes(begin) && doc.includes(end)) {
    doc = doc.slice(0, doc.indexOf(begin)) + section + doc.slice(doc.indexOf(end) + end.length);
  } else {
    doc += `\n## ${heading}\n\n${section}\n`;
  }
  writeFileSync(DOC, doc);
}
