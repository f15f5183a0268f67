/**
 * The card gateway ShopCo pays through. The simulated one is deterministic so
 * tests and demos can choose the outcome by card number.
 */

export interface ChargeResult {
  approved: boolean;
}

export interface PaymentGateway {
  charge(card: string, amountCents: number): Promise<ChargeResult>;
}

/** Always declined; every other valid card number is approved. */
export const DECLINED_CARD = '4000000000000002';
export const APPROVED_CARD = '4242424242424242';

export const simulatedGateway: PaymentGateway = {
  async charge(card) {
    return { approved: card !== DECLINED_CARD };
  },
};

/** The Luhn checksum every real card number satisfies. */
export function isValidCardNumber(card: string): boolean {
  if (!/^\d{12,19}$/.test(card)) return false;
  let sum = 0;
  for (let i = 0; i < card.length; i++) {
    let digit = Number(card[card.length - 1 - i]);
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}
