/** Small text helpers for the `pnpm strangler` output. */

/** Left-aligned columns separated by two spaces; the last column is not padded (as `pnpm flags list`). */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

export const count = (n: number): string => n.toLocaleString('en-US');

export const percent = (x: number | null): string => (x === null ? '-' : `${(x * 100).toFixed(2)} %`);

/** "2026-11-25 00:24:07Z". */
export function timestamp(at: Date | string): string {
  const iso = typeof at === 'string' ? at : at.toISOString();
  return `${iso.slice(0, 19).replace('T', ' ')}Z`;
}

/** "3.2 s", "4 min 10 s", "2 h 5 min". */
export function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const s = Math.round(seconds);
  const unit = (n: number, name: string) => (n > 0 ? ` ${n} ${name}` : '');
  if (s < 3600) return `${Math.floor(s / 60)} min${unit(s % 60, 's')}`;
  return `${Math.floor(s / 3600)} h${unit(Math.floor((s % 3600) / 60), 'min')}`;
}

/** "12 s ago" relative to `now`. */
export function ago(at: Date, now = Date.now()): string {
  return `${duration(Math.max(0, (now - at.getTime()) / 1000))} ago`;
}
