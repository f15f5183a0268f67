import { defineError } from '@strangler/foundation';

// ShopCo's error codes, by bounded context. They are part of the API contract
// (docs/errors.md): an extracted service answers with the same ones.

export const UserNotFound = defineError('USERS_NOT_FOUND', 404, 'User %s not found');
export const EmailTaken = defineError('USERS_EMAIL_TAKEN', 409, 'That email is already registered');
export const InvalidCredentials = defineError('USERS_INVALID_CREDENTIALS', 401, 'Email or password is incorrect');
export const TokenMissing = defineError(
  'AUTH_TOKEN_MISSING',
  401,
  'Send a bearer token: Authorization: Bearer <token>',
);
export const TokenInvalid = defineError('AUTH_TOKEN_INVALID', 401, 'The token is invalid or expired; log in again');
export const NotYourAccount = defineError('AUTH_FORBIDDEN', 403, 'You may only act on your own account');

export const ProductNotFound = defineError('PRODUCTS_NOT_FOUND', 404, 'Product %s not found');
export const SkuTaken = defineError('PRODUCTS_SKU_TAKEN', 409, 'A product with SKU %s already exists');
export const InvalidCursor = defineError('PRODUCTS_INVALID_CURSOR', 400, 'cursor is not one this API returned');

export const OrderNotFound = defineError('ORDERS_NOT_FOUND', 404, 'Order %s not found');
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
export const OrderTotalTooLarge = defineError(
  'ORDERS_TOTAL_TOO_LARGE',
  400,
  'The order total of %s cents is over the largest payable amount, %s cents; split the order',
);
export const StockHeld = defineError(
  'ORDERS_STOCK_HELD',
  503,
  'Stock changes are paused while stock moves between ShopCo and the products service (%s); retry in a few seconds',
);
export const InventoryUnavailable = defineError(
  'ORDERS_INVENTORY_UNAVAILABLE',
  503,
  'The products service, which keeps the stock, could not be used (%s); nothing was changed, retry shortly',
);
export const InvalidTransition = defineError('ORDERS_INVALID_TRANSITION', 409, 'Order %s cannot go from %s to %s');

export const PaymentNotFound = defineError('PAYMENTS_NOT_FOUND', 404, 'Payment %s not found');
export const PaymentDeclined = defineError('PAYMENTS_DECLINED', 402, 'The card was declined');
export const InvalidCard = defineError('PAYMENTS_INVALID_CARD', 400, 'card is not a valid card number');
export const AmountMismatch = defineError(
  'PAYMENTS_AMOUNT_MISMATCH',
  409,
  'amountCents %s does not match the order total %s',
);
export const OrderNotPayable = defineError(
  'PAYMENTS_ORDER_NOT_PAYABLE',
  409,
  'Order %s is %s; only pending orders can be paid',
);
export const AlreadyRefunded = defineError('PAYMENTS_ALREADY_REFUNDED', 409, 'Payment %s is already refunded');
export const NotRefundable = defineError('PAYMENTS_NOT_REFUNDABLE', 409, 'Payment %s cannot be refunded: %s');
