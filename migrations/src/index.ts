export { type DatabaseKind, databases, migrateLatest, migrateRollback, schemaFingerprint } from './migrator.ts';
export {
  createSeedPlan,
  generateOrderItems,
  generateOrders,
  generatePayments,
  generateProducts,
  generateUsers,
  SEED_PASSWORD,
  SEED_TABLES,
  type SeedOptions,
  type SeedPlan,
  type SeedTable,
} from './seed/generate.ts';
export {
  type SeedDatabaseOptions,
  type SeedProgress,
  SeedRefusedError,
  type SeedReport,
  type SeedTableReport,
  seedDatabase,
} from './seed/load.ts';
export * from './sync/index.ts';
