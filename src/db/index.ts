export { connectDatabase, isDatabaseUnavailable, toBuffer, type Database, type DatabaseOptions, type Db } from './connect.ts';
export { migrateLatest, rollbackAll, migrationStatus } from './migrate.ts';
export { createAccountQueries, type AccountQueries, type AccountRow, type NewAccount } from './queries/accounts.ts';
export { createTemplateQueries, type TemplateQueries, type TemplateRow, type NewTemplate } from './queries/templates.ts';
export { createAuditQueries, type AuditQueries, type AuditEventRow, type NewAuditEvent, type AuditFilter } from './queries/audit.ts';
export { createClientQueries, type ClientQueries, type ClientRow } from './queries/clients.ts';
export { createSigningKeyQueries, type SigningKeyQueries, type SigningKeyRow, type KeyState } from './queries/signingKeys.ts';
export { createOidcPayloadQueries, type OidcPayloadQueries, type PayloadRecord } from './queries/oidcPayloads.ts';
export { createTotpQueries, type TotpQueries, type TotpRow } from './queries/totp.ts';
