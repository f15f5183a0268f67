import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const DOC = join(resolve(import.meta.dirname, '../..'), 'docs/benchmarks.md');

const FRESH_DOC =
  '# Benchmarks\n\nEvery table here is written by the command named above it; do not edit them by hand.\n';

/** `kind` names the writer: `bench` for the benchmarks, `chaos` for the chaos suite's docs/reliability.md. */
const markers = (id: string, kind = 'bench'): { begin: string; end: string } => ({
  begin: `<!-- ${kind}:${id}:begin -->`,
  end: `<!-- ${kind}:${id}:end -->`,
});

function readDoc(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return FRESH_DOC;
  }
}

/**
 * `doc` with the section `name` (between `<!-- bench:<name>:begin -->` and
 * `end`) replaced by `body`, or, when it is not there yet, added at the end
 * under `heading`. Everything outside the markers is kept as it is.
 */
export function spliceSection(doc: string, name: string, heading: string, body: string, kind = 'bench'): string {
  const { begin, end } = markers(name, kind);
  const section = `${begin}\n${body}\n${end}`;
  const from = doc.indexOf(begin);
  const to = doc.indexOf(end);
  if (from >= 0 && to > from) return doc.slice(0, from) + section + doc.slice(to + end.length);
  return `${doc}\n## ${heading}\n\n${section}\n`;
}

/**
 * `doc` with one part of section `name` (between
 * `<!-- bench:<name>:<part>:begin -->` and `end`, inside the section)
 * replaced by `body`, the section's other parts and any text around them left
 * as they are. A part not there yet goes before the first part that `order`
 * puts after it, else at the end of the section. For a benchmark that
 * measures several things one at a time and must not erase the ones a run
 * left out.
 */
export function spliceSectionPart(
  doc: string,
  name: string,
  heading: string,
  part: string,
  body: string,
  order: readonly string[],
  kind = 'bench',
): string {
  if (!/^[a-z][a-z0-9-]*$/.test(part) || part === 'begin' || part === 'end') {
    throw new Error(`"${part}" cannot name a part of a benchmark section`);
  }
  const section = markers(name, kind);
  const from = doc.indexOf(section.begin);
  const to = doc.indexOf(section.end);
  const current = from >= 0 && to > from ? doc.slice(from + section.begin.length, to).replace(/^\n|\n$/g, '') : '';
  const { begin, end } = markers(`${name}:${part}`, kind);
  const block = `${begin}\n${body}\n${end}`;
  let next: string;
  const at = current.indexOf(begin);
  const until = current.indexOf(end);
  if (at >= 0 && until > at) {
    next = current.slice(0, at) + block + current.slice(until + end.length);
  } else {
    const later = order
      .slice(order.indexOf(part) + 1)
      .map((p) => current.indexOf(markers(`${name}:${p}`, kind).begin))
      .filter((i) => i >= 0);
    const before = later.length > 0 ? Math.min(...later) : -1;
    if (before >= 0) next = `${current.slice(0, before)}${block}\n\n${current.slice(before)}`;
    else next = current.trim() === '' ? block : `${current}\n\n${block}`;
  }
  return spliceSection(doc, name, heading, next, kind);
}

/**
 * Puts a benchmark's results into docs/benchmarks.md between its markers,
 * leaving every other section as it is; a section not there yet is added at
 * the end under `heading`. `file` is for tests.
 */
export function writeBenchmarkSection(name: string, heading: string, body: string, file = DOC): void {
  writeFileSync(file, spliceSection(readDoc(file), name, heading, body));
}

/** Puts one part of a benchmark's section into docs/benchmarks.md (see spliceSectionPart). */
export function writeBenchmarkSectionPart(
  name: string,
  heading: string,
  part: string,
  body: string,
  order: readonly string[],
  file = DOC,
): void {
  writeFileSync(file, spliceSectionPart(readDoc(file), name, heading, part, body, order));
}
