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

/** The error codes this module raises (see src/shared/errors.ts). */
declare module '../shared/errors.ts' {
  interface ErrorCodes {
    custodian_already_running: true;
    custodian_bad_request: true;
    custodian_config_invalid: true;
    custodian_frame_too_large: true;
    custodian_internal: true;
    custodian_key_store_insecure: true;
    custodian_key_store_invalid: true;
    custodian_rate_limited: true;
    custodian_registration_unknown: true;
    custodian_replay: true;
    custodian_request_stale: true;
    custodian_subject_unknown: true;
    custodian_template_mismatch: true;
    custodian_ticket_invalid: true;
    custodian_unauthenticated: true;
    custodian_unavailable: true;
  }
}
