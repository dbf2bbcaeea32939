export { connectDatabase, isDatabaseUnavailable, type Database, type DatabaseOptions, type Db } from './connect.ts';
export { migrateLatest, rollbackAll, migrationStatus } from './migrate.ts';
export { createAccountQueries, type AccountQueries, type AccountRow } from './queries/accounts.ts';
export { createTemplateQueries, type TemplateQueries } from './queries/templates.ts';
export { createAuditQueries, type AuditQueries, type NewAuditEvent } from './queries/audit.ts';
export { createClientQueries, type ClientQueries, type ClientRow } from './queries/clients.ts';
export { createSigningKeyQueries, type SigningKeyQueries, type SigningKeyRow } from './queries/signingKeys.ts';
export { createOidcPayloadQueries, type OidcPayloadQueries } from './queries/oidcPayloads.ts';
export { createTotpQueries, type TotpQueries } from './queries/totp.ts';
