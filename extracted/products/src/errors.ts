import { defineError } from '@strangler/foundation';

// The products codes of ShopCo (docs/errors.md), defined again with the same
// code, status and message: the service answers exactly as the monolith did.
// The catalog accepts an identical re-definition and refuses one that
// differs, so the two cannot drift apart in a process that loads both.

export const ProductNotFound = defineError('PRODUCTS_NOT_FOUND', 404, 'Product %s not found');
export const SkuTaken = defineError('PRODUCTS_SKU_TAKEN', 409, 'A product with SKU %s already exists');
export const InvalidCursor = defineError('PRODUCTS_INVALID_CURSOR', 400, 'cursor is not one this API returned');

// The monolith's order codes for the same two refusals: its orders and
// checkout will pass these answers on to their clients unchanged.
export const InsufficientStock = defineError(
  'ORDERS_INSUFFICIENT_STOCK',
  409,
  'Not enough stock for product %s: %s requested, %s available',
);
export const DuplicateOrderItem = defineError(
  'ORDERS_DUPLICATE_ITEM',
  400,
  'Product %s appears twice in items; send one line per product',
);

// The internal inventory API's own codes (only ShopCo calls it).
export const InternalTokenInvalid = defineError(
  'PRODUCTS_INTERNAL_TOKEN',
  401,
  'Send the internal API token: Authorization: Bearer <INTERNAL_API_TOKEN>',
);
export const ReservationNotFound = defineError('INVENTORY_RESERVATION_NOT_FOUND', 404, 'Inventory key %s not found');
export const InventoryKeyReused = defineError(
  'INVENTORY_KEY_REUSED',
  409,
  'Inventory key %s is already used for %s; use a new key',
);
export const ReservationReleased = defineError('INVENTORY_RESERVATION_RELEASED', 409, 'Inventory key %s is already %s');
