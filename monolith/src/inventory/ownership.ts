import { type FlagSnapshot, writeOwnerIn } from '@strangler/flags';
import { type FenceMember, type WriteOwner, WritesHeldError } from '@strangler/foundation';
import { StockHeld } from '../errors.ts';

/**
 * Who owns stock at the moment an order takes or gives back some: the seam of
 * the branch by abstraction (ADR 0013). Until the products context reaches
 * `writes`, ShopCo owns it and its orders change `products.stock` in their own
 * transaction, as they always did; from `writes` on, the products service owns
 * it and orders reserve and release through its API.
 */
export interface StockOwnership {
  /**
   * Enters one stock change: resolves with the owner to use, and a `done` to
   * call when the change is finished (committed or given up). Throws
   * StockHeld while a products write cutover holds stock changes for
   * longer than the hold allows.
   */
  enter(): Promise<StockTicket>;
}

export interface StockTicket {
  owner: WriteOwner;
  done(): void;
}

/** ShopCo on its own (no products service configured): stock is always local. */
export const LOCAL_STOCK: StockOwnership = Object.freeze({
  enter: async (): Promise<StockTicket> => ({ owner: 'monolith', done: () => {} }),
});

/**
 * Mid-migration: ShopCo takes part in the write fence like a router, for the
 * products context. A stock change is admitted only when no products cutover
 * holds writes, and the owner is read from the flags after admission, so a
 * change held during a cutover runs against the owner of the moment it is let
 * go. The cutover waits for this process too: it acknowledges a hold only once
 * its admitted stock changes are done, and reports the owner its flags give,
 * so the switch completes only when ShopCo follows it.
 */
export class FencedStockOwnership implements StockOwnership {
  readonly #fence: FenceMember;
  readonly #flags: () => FlagSnapshot;

  constructor(fence: FenceMember, flags: () => FlagSnapshot) {
    this.#fence = fence;
    this.#flags = flags;
  }

  async enter(): Promise<StockTicket> {
    let done: () => void;
    try {
      done = await this.#fence.admit('products');
    } catch (err) {
      if (err instanceof WritesHeldError) throw new StockHeld(err.message);
      throw err;
    }
    return { owner: writeOwnerIn(this.#flags(), 'products'), done };
  }
}
