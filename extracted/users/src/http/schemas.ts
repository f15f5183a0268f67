/** JSON-schema pieces shared with ShopCo and the other services (foundation's http/schemas.ts). */
export { errorResponses, idParams, idSchema, idTextSchema, MAX_ID, timestampSchema } from '@strangler/foundation';
