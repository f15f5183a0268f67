export { type DatabaseKind, databases, migrateLatest, migrateRollback, schemaFingerprint } from './migrator.ts';
