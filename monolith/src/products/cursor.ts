/**
 * Search cursors are opaque to clients: base64url of `p1:<last id>`. The
 * version tag lets the format change without old cursors being misread.
 */

export function encodeCursor(lastId: number): string {
  return Buffer.from(`p1:${lastId}`).toString('base64url');
}

/** The last id a cursor points after, or null when it is not one we issued. */
export function decodeCursor(cursor: string): number | null {
  if (!/^[A-Za-z0-9_-]{1,40}$/.test(cursor)) return null;
  const match = /^p1:([1-9]\d{0,9})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match?.[1]) return null;
  const id = Number(match[1]);
  return id <= 2_147_483_647 ? id : null;
}
