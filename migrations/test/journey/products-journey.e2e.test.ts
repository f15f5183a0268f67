import { defineJourney } from './journey.ts';
import { productsJourney } from './products-workload.ts';

// The products extraction, end to end under load (journey.ts), with the products workload:
// stock fought over by concurrent checkouts while ShopCo's orders follow the products write owner.
defineJourney(productsJourney);
