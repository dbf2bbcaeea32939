import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.ts';
import { connectDatabase, lockedError, lockHolder, migrateLatest, pgliteDirectory } from '../db/index.ts';
import { createIdp } from '../idp.ts';
import { FACE_COMMANDS, OPTIONS, USAGE, createCommands, isCommand, sendToOperator, usageError, type CommandRequest, type CommandResult } from '../operator/index.ts';
import { AppError, createLogger, isAppError } from '../shared/index.ts';

/**
 * Operator commands: `npm run cli -- <command> [options] [--json]`. The commands themselves are
 * src/operator (shared with the IdP's operator socket). Here: parse the arguments, read the face
 * images, and run the command where the database is — through the running IdP when it holds the
 * embedded database, else against the database opened here. stdout carries only the command's
 * output (text, or one JSON object with --json); logs and anything else go to stderr.
 */

// Whatever writes to stdout besides us (a library's banner, a worker thread's console) goes to stderr.
const stdout = process.stdout.write.bind(process.stdout);
process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
console.log = console.error;
console.info = console.error;

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

async function runHere(request: CommandRequest): Promise<CommandResult> {
  const config = loadConfig();
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn', name: 'faceid-cli', destination: process.stderr });
  if (!config.databaseUrl) {
    // The embedded database belongs to one process; when an IdP holds it, it runs the command.
    const dir = pgliteDirectory(config.dataDir);
    const holder = lockHolder(dir);
    if (holder) {
      try {
        return await sendToOperator(config.dataDir, request);
      } catch (error) {
        // No IdP serving it (e.g. another CLI command holds the database): say who holds it.
        if (isAppError(error) && error.code === 'operator_unreachable') throw lockedError(dir, holder);
        throw error;
      }
    }
  }
  const database = connectDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
  try {
    // Every command but the db:* ones works on an up-to-date schema.
    if (!request.command.startsWith('db:')) await migrateLatest(database.knex);
    // The IdP's capabilities without its web app; the face engine only for the commands that need it
    // (the custodian client connects on first use: user:delete tells it to destroy the account's key).
    const needsFaces = FACE_COMMANDS.has(request.command);
    const idp = await createIdp(config, { logger, database, migrate: false, http: false, ...(needsFaces ? {} : { face: 'none' as const }) });
    try {
      return await createCommands(idp.services).run(request);
    } finally {
      await idp.close();
    }
  } finally {
    await database.close();
  }
}

async function main(): Promise<number> {
  const json = process.argv.includes('--json');
  const fail = (code: string, message: string, exit: number) => {
    if (json) stdout(`${JSON.stringify({ ok: false, error: { code, message } })}\n`);
    process.stderr.write(`error (${code}): ${message}\n`);
    return exit;
  };
  let parsed;
  try {
    parsed = parseArgs({ args: process.argv.slice(2), options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    return fail('cli_usage', `${(error as Error).message}\n\n${USAGE}`, EXIT_USAGE);
  }
  const { positionals, values } = parsed;
  const [command] = positionals;
  if (!command || values.help) {
    stdout(`${USAGE}\n`);
    return EXIT_OK;
  }
  try {
    if (positionals.length > 1) throw usageError(`One command at a time (got ${positionals.join(' ')}).`);
    if (!isCommand(command)) throw usageError(`Unknown command "${command}".`);
    const { json: _json, help: _help, face, ...options } = values;
    const files = face ?? [];
    if (FACE_COMMANDS.has(command) && files.length === 0) throw usageError('At least one --face IMG is required.');
    const faces = files.map((file) => {
      try {
        return readFileSync(file);
      } catch (cause) {
        throw new AppError('cli_usage', `Cannot read the face image ${file}: ${(cause as Error).message}`, { status: 400, cause });
      }
    });
    const result = await runHere({ command, options, faces });
    stdout(json ? `${JSON.stringify({ ok: true, command, ...result.data })}\n` : result.text ? `${result.text}\n` : '');
    return EXIT_OK;
  } catch (error) {
    if (isAppError(error)) return fail(error.code, error.message, error.code === 'cli_usage' ? EXIT_USAGE : EXIT_FAILED);
    return fail('unexpected_error', (error as Error).message, EXIT_FAILED);
  }
}

process.exitCode = await main();
