/**
 * Compares the monolith's and the service's answers to the same request.
 * Noise rules say which differences are expected and not a mismatch:
 * `ignore` paths (e.g. `updatedAt`, `items.*.updatedAt`) are skipped,
 * `unordered` paths hold arrays compared as multisets, and `rankedPage`
 * declares a page of a result set whose order may differ (a better search
 * ranks the same matches differently and is still right).
 */

export interface NoiseRule {
  /** JSON paths whose values are not compared; `*` matches any key or index. */
  ignore?: readonly string[];
  /** JSON paths of arrays compared without regard to order. */
  unordered?: readonly string[];
  /**
   * The body is one page of a result set that both sides must hold in full
   * but may order differently: `items` (a top-level array of objects with a
   * `key` field) and `next` (the cursor of the following page, null on the
   * last). Cursors are opaque: only whether there is a next page is compared.
   * On the last page of both sides the items are compared as a multiset (the
   * same matches, in any order). When there are more pages, the two sides'
   * first pages may rightly hold different members of the set, so the page
   * sizes are compared and the items present on both sides are compared field
   * by field (a stale price or stock still shows); which members a page holds
   * is not.
   */
  rankedPage?: { items: string; next: string; key: string };
}

export interface Answer {
  status: number;
  body: unknown;
}

export interface Comparison {
  match: boolean;
  /** The JSON paths that differ (`$status` when the status codes do). */
  paths: string[];
}

const MAX_PATHS = 50;

function pathMatches(pattern: string, path: string): boolean {
  const p = pattern.split('.');
  const q = path.split('.');
  return p.length === q.length && p.every((segment, i) => segment === '*' || segment === q[i]);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}

export function compareAnswers(primary: Answer, shadow: Answer, noise: NoiseRule = {}): Comparison {
  const paths: string[] = [];
  if (primary.status !== shadow.status) paths.push('$status');
  let ignore = noise.ignore ?? [];
  let unordered = noise.unordered ?? [];
  const page = noise.rankedPage;
  if (page && isRecord(primary.body) && isRecord(shadow.body)) {
    const [a, b] = [primary.body, shadow.body];
    const moreA = a[page.next] !== null && a[page.next] !== undefined;
    const moreB = b[page.next] !== null && b[page.next] !== undefined;
    if (moreA !== moreB) paths.push(page.next);
    ignore = [...ignore, page.next];
    const itemsA = a[page.items];
    const itemsB = b[page.items];
    if (Array.isArray(itemsA) && Array.isArray(itemsB)) {
      if (!moreA && !moreB) {
        unordered = [...unordered, page.items];
      } else {
        if (itemsA.length !== itemsB.length) paths.push(`${page.items}.length`);
        const byKey = new Map(itemsB.filter(isRecord).map((item) => [canonical(item[page.key]), item]));
        for (const item of itemsA.filter(isRecord)) {
          const other = byKey.get(canonical(item[page.key]));
          if (other === undefined) continue;
          const inner = compareAnswers(
            { status: 0, body: item },
            { status: 0, body: other },
            {
              ignore: ignore.filter((p) => p.startsWith(`${page.items}.*.`)).map((p) => p.slice(page.items.length + 3)),
            },
          );
          for (const p of inner.paths) paths.push(`${page.items}.${String(item[page.key])}.${p}`);
        }
        ignore = [...ignore, page.items];
      }
    }
  }

  const walk = (a: unknown, b: unknown, path: string): void => {
    if (paths.length >= MAX_PATHS) return;
    if (path && ignore.some((p) => pathMatches(p, path))) return;
    if (Array.isArray(a) && Array.isArray(b)) {
      if (unordered.some((p) => pathMatches(p, path || '$'))) {
        const strip = (v: unknown) => canonical(stripIgnored(v, path, ignore));
        const left = a.map(strip).sort();
        const right = b.map(strip).sort();
        if (left.length !== right.length || left.some((v, i) => v !== right[i])) paths.push(path || '$');
        return;
      }
      const n = Math.max(a.length, b.length);
      for (let i = 0; i < n; i++) walk(a[i], b[i], path ? `${path}.${i}` : String(i));
      return;
    }
    if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
      const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
      for (const key of [...keys].sort()) {
        walk((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], path ? `${path}.${key}` : key);
      }
      return;
    }
    if (canonical(a) !== canonical(b)) paths.push(path || '$');
  };
  walk(primary.body, shadow.body, '');
  return { match: paths.length === 0, paths };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A copy of `value` (found at `base`) without the ignored paths, for multiset comparison. */
function stripIgnored(value: unknown, base: string, ignore: readonly string[]): unknown {
  const visit = (v: unknown, path: string): unknown => {
    if (Array.isArray(v)) return v.map((item, i) => visit(item, `${path}.${i}`));
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, child] of Object.entries(v)) {
        const childPath = `${path}.${k}`;
        if (!ignore.some((p) => pathMatches(p, childPath))) out[k] = visit(child, childPath);
      }
      return out;
    }
    return v;
  };
  // Elements of an unordered array are addressed as `<base>.*`.
  return visit(value, `${base}.*`);
}
