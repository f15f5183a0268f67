/**
 * Compares the monolith's and the service's answers to the same request.
 * Noise rules say which differences are expected and not a mismatch:
 * `ignore` paths (e.g. `updatedAt`, `items.*.updatedAt`) are skipped, and
 * `unordered` paths hold arrays compared as multisets (a better search may
 * order results differently and still be right).
 */

export interface NoiseRule {
  /** JSON paths whose values are not compared; `*` matches any key or index. */
  ignore?: readonly string[];
  /** JSON paths of arrays compared without regard to order. */
  unordered?: readonly string[];
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
  const ignore = noise.ignore ?? [];
  const unordered = noise.unordered ?? [];

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
