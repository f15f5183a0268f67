/**
 * Search cursors are opaque to clients: base64url text with a version tag.
 *
 * - `p1:<last id>` is the monolith's own format (monolith/src/products/cursor.ts),
 *   for results in id order. The service issues it whenever its order is the
 *   monolith's (no search term, or a term of stop words only), and reads it
 *   as "continue in id order after this id" whatever the term: a client that
 *   got its first page from ShopCo keeps paging through the same set, in
 *   ShopCo's order, without gaps or repeats.
 * - `r1:<rank key>:<last id>` is the service's own, for results by relevance:
 *   a keyset position on (rank descending, id ascending). The rank key is the
 *   IEEE-754 bit pattern of the float4 rank read as an integer, which orders
 *   non-negative floats exactly as their values: no decimal text, so no
 *   rounding can move a page boundary. ShopCo answers an `r1` cursor with
 *   400 PRODUCTS_INVALID_CURSOR.
 */

export const MAX_ID = 2_147_483_647;
/** The bit pattern of +Infinity: every finite rank's key is below it; no-cursor starts here. */
export const RANK_KEY_CEILING = 0x7f800000;

export type SearchPosition =
  | { order: 'id'; afterId: number }
  | { order: 'rank'; afterRankKey: number; afterId: number };

export function encodeIdCursor(lastId: number): string {
  return Buffer.from(`p1:${lastId}`).toString('base64url');
}

export function encodeRankCursor(rankKey: number, lastId: number): string {
  return Buffer.from(`r1:${rankKey}:${lastId}`).toString('base64url');
}

function id(text: string): number | null {
  const n = Number(text);
  return n <= MAX_ID ? n : null;
}

/** Where a cursor points, or null when it is not one either side issued. */
export function decodeCursor(cursor: string): SearchPosition | null {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(cursor)) return null;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const byId = /^p1:([1-9]\d{0,9})$/.exec(text);
  if (byId?.[1]) {
    const afterId = id(byId[1]);
    return afterId === null ? null : { order: 'id', afterId };
  }
  const byRank = /^r1:(0|[1-9]\d{0,9}):([1-9]\d{0,9})$/.exec(text);
  if (byRank?.[1] && byRank[2]) {
    const afterRankKey = Number(byRank[1]);
    const afterId = id(byRank[2]);
    if (afterId === null || afterRankKey >= RANK_KEY_CEILING) return null;
    return { order: 'rank', afterRankKey, afterId };
  }
  return null;
}
