import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../config/index.ts';
import { connectDatabase, migrateLatest, migrationStatus, rollbackAll, type Database } from '../db/index.ts';
import { createIdp } from '../idp.ts';
import { AppError, createLogger, isAppError } from '../shared/index.ts';

/**
 * Operator commands: `npm run cli -- <command> [options]`. Uses the same configuration and
 * services as the IdP; commands that need faces also start the face engine and reach the custodian.
 */

const USAGE = `Usage: npm run cli -- <command> [options]

  db:migrate | db:rollback | db:status
  user:add --username U --email E [--name N] --face IMG [--face IMG ...]
  user:delete --username U
  user:reset-face --username U --face IMG [--face IMG ...]   (after checking the person's identity; audited)
  user:list
  client:add --name N --redirect-uri URI [--redirect-uri URI ...] [--post-logout-uri URI ...] [--public] [--first-party] [--client-id ID] [--id-token-alg RS256|ES256]
  client:list
  client:delete --client-id ID
  keys:list
  keys:rotate     (then restart the IdP processes; the new key was already published)`;

const OPTIONS = {
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
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

const required = (values: Values, name: 'username' | 'email' | 'name' | 'client-id'): string => {
  const value = values[name];
  if (!value) throw new AppError('cli_usage', `--${name} is required.\n\n${USAGE}`);
  return value;
};

/** The --face image paths, at least one. */
const faceFiles = (values: Values): string[] => {
  const files = values.face ?? [];
  if (files.length === 0) throw new AppError('cli_usage', `At least one --face IMG is required.\n\n${USAGE}`);
  return files;
};

async function run(command: string, values: Values, config: Config, database: Database): Promise<void> {
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn', name: 'faceid-cli' });
  const print = (line: string) => process.stdout.write(`${line}\n`);
  // The IdP's capabilities without its web app; the face engine only for the commands that need it
  // (the custodian client connects on first use: user:delete tells it to destroy the account's key).
  const needsFaces = command === 'user:add' || command === 'user:reset-face';
  const idp = await createIdp(config, { logger, database, migrate: false, http: false, ...(needsFaces ? {} : { face: 'none' as const }) });
  const { services } = idp;

  try {
    switch (command) {
      case 'db:migrate':
        print(`applied: ${(await migrateLatest(database.knex)).join(', ') || 'nothing (up to date)'}`);
        return;
      case 'db:rollback':
        print(`reverted: ${(await rollbackAll(database.knex)).join(', ') || 'nothing'}`);
        return;
      case 'db:status': {
        const status = await migrationStatus(database.knex);
        print(`completed: ${status.completed.join(', ') || '-'}\npending: ${status.pending.join(', ') || '-'}`);
        return;
      }
      case 'user:add': {
        const faces = faceFiles(values);
        const decision = await services.flow.signUp({
          rateLimited: false,
          body: async () => ({
            fields: { username: required(values, 'username'), email: required(values, 'email'), name: values.name ?? '', consent: 'yes' },
            frames: faces.map((file) => readFileSync(file)),
          }),
        });
        print(`created account ${decision.accountId} (${values.username}); template enrolled from ${faces.length} image(s), encrypted`);
        return;
      }
      case 'user:reset-face': {
        // The lost-face path: a user who no longer matches (injury, new glasses...) is re-enrolled
        // by an operator who has verified them out of band, never silently: it is audited.
        const account = await services.accounts.findByUsername(required(values, 'username'));
        if (!account) throw new AppError('cli_not_found', 'No such user.');
        const faces = faceFiles(values);
        await services.flow.reenroll({ accountId: account.id, actor: 'operator', frames: async () => faces.map((file) => readFileSync(file)) });
        print(`re-enrolled ${account.username} from ${faces.length} image(s); the old template was replaced (audited)`);
        return;
      }
      case 'user:delete': {
        const account = await services.accounts.findByUsername(required(values, 'username'));
        if (!account || !(await services.accounts.delete(account.id, { actor: 'operator' }))) throw new AppError('cli_not_found', 'No such user.');
        print(`deleted ${account.username}: account, face template, grants and sessions erased`);
        return;
      }
      case 'user:list':
        for (const account of await services.queries.accounts.list(1000)) print(`${account.id}\t${account.username}\t${account.email}\t${account.created_at.toISOString()}`);
        return;
      case 'client:add': {
        const result = await services.clients.add({
          ...(values['client-id'] ? { clientId: values['client-id'] } : {}),
          name: required(values, 'name'),
          redirectUris: values['redirect-uri'] ?? [],
          postLogoutRedirectUris: values['post-logout-uri'] ?? [],
          authMethod: values.public ? 'none' : 'client_secret_basic',
          firstParty: values['first-party'] ?? false,
          ...(values['id-token-alg'] ? { idTokenSignedResponseAlg: values['id-token-alg'] } : {}),
        });
        await services.audit.record({ type: 'client_added', outcome: 'success', clientId: result.clientId, detail: { actor: 'operator' } });
        print(`client_id=${result.clientId}`);
        if (result.clientSecret) print(`client_secret=${result.clientSecret}\n(shown once; it is stored sealed)`);
        return;
      }
      case 'client:list':
        for (const client of await services.clients.list()) {
          print(`${client.clientId}\t${client.name}\t${client.authMethod}${client.firstParty ? '\tfirst-party' : ''}\t${client.redirectUris.join(' ')}`);
        }
        return;
      case 'client:delete': {
        const clientId = required(values, 'client-id');
        if (!(await services.clients.remove(clientId))) throw new AppError('cli_not_found', 'No such client.');
        await services.audit.record({ type: 'client_deleted', outcome: 'success', clientId, detail: { actor: 'operator' } });
        print(`deleted client ${clientId}`);
        return;
      }
      case 'keys:list':
        for (const key of await services.signingKeys.list()) print(`${key.kid}\t${key.alg}\t${key.state}\tcreated ${key.created_at.toISOString()}`);
        return;
      case 'keys:rotate': {
        const result = await services.signingKeys.rotate();
        await services.audit.record({ type: 'keys_rotated', outcome: 'success', detail: { activated: result.activated, retired: result.retired, created: result.created, deleted: result.deleted } });
        print(`activated ${result.activated.join(', ')}\nretired ${result.retired.join(', ')}\npublished next ${result.created.join(', ')}\nRestart the IdP processes to sign with the new keys.`);
        return;
      }
      default:
        throw new AppError('cli_usage', `Unknown command "${command}".\n\n${USAGE}`);
    }
  } finally {
    await idp.close();
  }
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: process.argv.slice(2), options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const [command] = parsed.positionals;
  if (!command || parsed.values.help) {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  const config = loadConfig();
  const database = connectDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
  try {
    // Every command but the db:* ones works on an up-to-date schema.
    if (!command.startsWith('db:')) await migrateLatest(database.knex);
    await run(command, parsed.values, config, database);
    return 0;
  } catch (error) {
    if (isAppError(error)) {
      process.stderr.write(`error (${error.code}): ${error.message}\n`);
    } else {
      process.stderr.write(`unexpected error: ${(error as Error).message}\n`);
    }
    return 1;
  } finally {
    await database.close();
  }
}

process.exitCode = await main();

/** The error codes this module raises (see src/shared/errors.ts). */
declare module '../shared/errors.ts' {
  interface ErrorCodes {
    cli_not_found: true;
    cli_usage: true;
  }
}
