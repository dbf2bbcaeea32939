/**
 * The key custodian as the IdP sees it: a client (one bit per judge call, never a value) and a way
 * to start the custodian process. The secret-key side (server.ts, internal/) is not reachable
 * from here.
 */
export {
  createCustodianClient,
  type CustodianClient,
  type CustodianClientOptions,
  type CustodianHealth,
  type Registration,
  type SubjectKey,
  type Ticket,
} from './client.ts';
export { spawnCustodian, type SpawnCustodianOptions, type SpawnedCustodian } from './spawn.ts';
export type { Verdict } from './protocol.ts';
export { DEFAULT_BUDGET } from './defaults.ts';
