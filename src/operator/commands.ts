import { migrateLatest, migrationStatus, rollbackAll } from '../db/index.ts';
import type { Services } from '../idp.ts';
import { AppError } from '../shared/index.ts';

/**
 * The operator commands, in one place: `npm run cli` runs them against the database it opened
 * (PostgreSQL, or the embedded one when no IdP runs on it), and a running IdP on the embedded
 * database runs the very same functions for the CLI through its operator socket (server.ts),
 * against its own open database. Each command is atomic: its writes and its audit event are one
 * transaction (a failure midway leaves nothing), and it returns both a text for people and an
 * object for `--json`; printing is the caller's.
 */

export const USAGE = `Usage: npm run cli -- <command> [options] [--json]

  db:migrate | db:rollback | db:status
  user:add --username U --email E [--name N] --face IMG [--face IMG ...]
  user:delete --username U
  user:reset-face --username U --face IMG [--face IMG ...]   (after checking the person's identity; audited)
  user:list
  templates:status   (face templates per face model and HE parameter set: current, migrating on sign-in, or unusable)
  client:add --name N --redirect-uri URI [--redirect-uri URI ...] [--post-logout-uri URI ...] [--public] [--first-party] [--client-id ID] [--id-token-alg RS256|ES256]
  client:list
  client:delete --client-id ID
  keys:list
  keys:rotate     (then restart the IdP processes; the new key was already published)

  --json          print one JSON object on stdout (errors too: {"ok":false,"error":{code,message}})
  -h, --help      this text

With the embedded database and the IdP running (npm start), commands are carried out by the
running IdP (through its operator socket in DATA_DIR); otherwise the CLI opens the database itself.`;

/** The options of every command (node:util parseArgs); the same names travel to the IdP. */
export const OPTIONS = {
  username: { type: 'string' },
  email: { type: 'string' },
  name: { type: 'string' },
  face: { type: 'string', multiple: true },
  'redirect-uri': { type: 'string', multiple: true },
  'post-logout-uri': { type: 'string', multiple: true },
  'client-id': { type: 'string' },
  public: { type: 'boolean' },
  'first-party': { type: 'boolean' },
  'id-token-alg': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const COMMANDS = ['db:migrate', 'db:rollback', 'db:status', 'user:add', 'user:delete', 'user:reset-face', 'user:list', 'templates:status', 'client:add', 'client:list', 'client:delete', 'keys:list', 'keys:rotate'] as const;
export type CommandName = (typeof COMMANDS)[number];

/** The commands that read face images (the CLI reads the files, the command gets the bytes). */
export const FACE_COMMANDS: ReadonlySet<string> = new Set(['user:add', 'user:reset-face']);

export type CommandOptions = Partial<Record<string, string | string[] | boolean>>;

export interface CommandRequest {
  command: string;
  options: CommandOptions;
  /** The --face images, in order (bytes, never paths: the IdP may not see the CLI's files). */
  faces: Uint8Array[];
}

export interface CommandResult {
  /** For people: lines on stdout. */
  text: string;
  /** For `--json`. Never a secret other than the one a command exists to hand over (a new client's secret). */
  data: Record<string, unknown>;
}

export const usageError = (message: string) => new AppError('cli_usage', `${message}\n\n${USAGE}`, { status: 400 });

export function isCommand(name: string): name is CommandName {
  return (COMMANDS as readonly string[]).includes(name);
}

const string = (options: CommandOptions, name: string): string | undefined => {
  const value = options[name];
  if (value === undefined || value === false) return undefined;
  if (typeof value !== 'string') throw usageError(`--${name} takes one value.`);
  return value;
};

const required = (options: CommandOptions, name: string): string => {
  const value = string(options, name);
  if (!value) throw usageError(`--${name} is required.`);
  return value;
};

const strings = (options: CommandOptions, name: string): string[] => {
  const value = options[name];
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) throw usageError(`--${name} takes values.`);
  return value;
};

const flag = (options: CommandOptions, name: string): boolean => options[name] === true;

const faces = (request: CommandRequest): Uint8Array[] => {
  if (request.faces.length === 0) throw usageError('At least one --face IMG is required.');
  return request.faces;
};

export type CommandServices = Pick<Services, 'db' | 'flow' | 'accounts' | 'biometric' | 'audit' | 'clients' | 'signingKeys' | 'queries'>;

export interface CommandContext {
  /** Carried out by a running IdP for a CLI (operator socket): the schema is the IdP's to manage. */
  remote?: boolean;
}

export function createCommands(services: CommandServices) {
  const { db, audit } = services;
  const notFound = (what: string) => new AppError('cli_not_found', `No such ${what}.`, { status: 404 });

  const handlers: Record<CommandName, (request: CommandRequest, context: CommandContext) => Promise<CommandResult>> = {
    async 'db:migrate'() {
      const applied = await migrateLatest(db);
      return { text: `applied: ${applied.join(', ') || 'nothing (up to date)'}`, data: { applied } };
    },
    async 'db:rollback'(_request, context) {
      if (context.remote) throw new AppError('operator_refused', 'db:rollback would drop the schema under the running IdP. Stop it first, then run db:rollback.', { status: 409 });
      const reverted = await rollbackAll(db);
      return { text: `reverted: ${reverted.join(', ') || 'nothing'}`, data: { reverted } };
    },
    async 'db:status'() {
      const status = await migrationStatus(db);
      return { text: `completed: ${status.completed.join(', ') || '-'}\npending: ${status.pending.join(', ') || '-'}`, data: { completed: status.completed, pending: status.pending } };
    },

    async 'user:add'(request) {
      const images = faces(request);
      const fields = { username: required(request.options, 'username'), email: required(request.options, 'email'), name: string(request.options, 'name') ?? '', consent: 'yes' };
      // The sign-up of the web pages, without the per-address rate: one transaction creates the
      // account, its template and the `signup` audit event (src/accounts).
      const decision = await services.flow.signUp({ rateLimited: false, body: async () => ({ fields, frames: images }) });
      const account = await services.accounts.findById(decision.accountId);
      return {
        text: `created account ${decision.accountId} (${account?.username ?? fields.username}); template enrolled from ${images.length} image(s), encrypted`,
        data: { accountId: decision.accountId, username: account?.username ?? fields.username, images: images.length },
      };
    },

    async 'user:reset-face'(request) {
      // The lost-face path: a user who no longer matches (injury, new glasses...) is re-enrolled
      // by an operator who has verified them out of band, never silently: it is audited, in the
      // transaction that replaces the template.
      const account = await services.accounts.findByUsername(required(request.options, 'username'));
      if (!account) throw notFound('user');
      const images = faces(request);
      await services.biometric.enroll({
        accountId: account.id,
        frames: images,
        store: (template, activate) =>
          services.accounts.replaceTemplate(account.id, template, activate, { type: 'face_reset', outcome: 'success', accountId: account.id, detail: { actor: 'operator', images: images.length } }),
      });
      return { text: `re-enrolled ${account.username} from ${images.length} image(s); the old template was replaced (audited)`, data: { accountId: account.id, username: account.username, images: images.length } };
    },

    async 'user:delete'(request) {
      const account = await services.accounts.findByUsername(required(request.options, 'username'));
      // One transaction: the account, its template, grants, sessions and the audit event.
      if (!account || !(await services.accounts.delete(account.id, { actor: 'operator' }))) throw notFound('user');
      return { text: `deleted ${account.username}: account, face template, grants and sessions erased`, data: { accountId: account.id, username: account.username } };
    },

    async 'user:list'() {
      const users = (await services.queries.accounts.list(1000)).map((account) => ({ id: account.id, username: account.username, email: account.email, createdAt: account.created_at.toISOString() }));
      return { text: users.map((user) => `${user.id}\t${user.username}\t${user.email}\t${user.createdAt}`).join('\n'), data: { users } };
    },

    async 'templates:status'() {
      // Templates of a legacy model still verify and are replaced on the account's next
      // successful sign-in; those of a model or HE parameter set this IdP no longer knows
      // cannot be compared at all: those users must re-enrol (user:reset-face, or the account page).
      const { modelVersion, legacyModelVersions, heParamsVersion } = services.biometric;
      const statusOf = (row: { modelVersion: string; heParams: string }) =>
        row.heParams !== heParamsVersion ? 'unusable' : row.modelVersion === modelVersion ? 'current' : legacyModelVersions.includes(row.modelVersion) ? 'migrates on sign-in' : 'unusable';
      const groups = (await services.queries.templates.countByModel()).map((row) => ({ ...row, newest: row.newest.toISOString(), status: statusOf(row) }));
      const lines = groups.map((g) => `${g.count}\t${g.status}\t${g.modelVersion}\t${g.heParams}\tnewest ${g.newest}`);
      return { text: [`current: ${modelVersion} (${heParamsVersion})`, ...lines].join('\n'), data: { current: { modelVersion, heParams: heParamsVersion }, legacy: legacyModelVersions, groups } };
    },

    async 'client:add'(request) {
      const { options } = request;
      const clientId = string(options, 'client-id');
      const alg = string(options, 'id-token-alg');
      const input = {
        ...(clientId ? { clientId } : {}),
        name: required(options, 'name'),
        redirectUris: strings(options, 'redirect-uri'),
        postLogoutRedirectUris: strings(options, 'post-logout-uri'),
        authMethod: flag(options, 'public') ? ('none' as const) : ('client_secret_basic' as const),
        firstParty: flag(options, 'first-party'),
        ...(alg ? { idTokenSignedResponseAlg: alg } : {}),
      };
      const result = await db.transaction(async (trx) => {
        const added = await services.clients.add(input, trx);
        await audit.record({ type: 'client_added', outcome: 'success', clientId: added.clientId, detail: { actor: 'operator' } }, trx);
        return added;
      });
      const lines = [`client_id=${result.clientId}`];
      if (result.clientSecret) lines.push(`client_secret=${result.clientSecret}`, '(shown once; it is stored sealed)');
      return { text: lines.join('\n'), data: { clientId: result.clientId, ...(result.clientSecret ? { clientSecret: result.clientSecret } : {}) } };
    },

    async 'client:list'() {
      const clients = (await services.clients.list()).map((client) => ({ ...client, createdAt: client.createdAt.toISOString() }));
      return {
        text: clients.map((client) => `${client.clientId}\t${client.name}\t${client.authMethod}${client.firstParty ? '\tfirst-party' : ''}\t${client.redirectUris.join(' ')}`).join('\n'),
        data: { clients },
      };
    },

    async 'client:delete'(request) {
      const clientId = required(request.options, 'client-id');
      await db.transaction(async (trx) => {
        if (!(await services.clients.remove(clientId, trx))) throw notFound('client');
        await audit.record({ type: 'client_deleted', outcome: 'success', clientId, detail: { actor: 'operator' } }, trx);
      });
      return { text: `deleted client ${clientId}`, data: { clientId } };
    },

    async 'keys:list'() {
      const keys = (await services.signingKeys.list()).map((key) => ({ kid: key.kid, alg: key.alg, state: key.state, createdAt: key.created_at.toISOString() }));
      return { text: keys.map((key) => `${key.kid}\t${key.alg}\t${key.state}\tcreated ${key.createdAt}`).join('\n'), data: { keys } };
    },

    async 'keys:rotate'() {
      const result = await services.signingKeys.rotate({
        audit: (rotation, trx) => audit.record({ type: 'keys_rotated', outcome: 'success', detail: { activated: rotation.activated, retired: rotation.retired, created: rotation.created, deleted: rotation.deleted } }, trx),
      });
      return {
        text: `activated ${result.activated.join(', ')}\nretired ${result.retired.join(', ')}\npublished next ${result.created.join(', ')}\nRestart the IdP processes to sign with the new keys.`,
        data: { ...result },
      };
    },
  };

  return {
    async run(request: CommandRequest, context: CommandContext = {}): Promise<CommandResult> {
      if (!isCommand(request.command)) throw usageError(`Unknown command "${request.command}".`);
      return handlers[request.command](request, context);
    },
  };
}

export type Commands = ReturnType<typeof createCommands>;

/** The error codes this module raises (see src/shared/errors.ts). */
declare module '../shared/errors.ts' {
  interface ErrorCodes {
    cli_not_found: true;
    cli_usage: true;
    operator_refused: true;
  }
}
