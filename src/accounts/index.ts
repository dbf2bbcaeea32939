import { z } from 'zod';
import type { AccountQueries, AccountRow, CustodianForgetQueries, Db, NewTemplate, OidcPayloadQueries, TemplateQueries, TemplateRow } from '../db/index.ts';
import type { Audit, AuditEvent } from '../audit/index.ts';
import type { StoredTemplate } from '../biometric/index.ts';
import { AppError, silentLogger, type Logger } from '../shared/index.ts';

/**
 * Accounts and their single face template. Creation and deletion are one transaction each, so
 * an account never exists without its template and a deletion never leaves a template, grant or
 * session behind. This module maps the template rows (column names) to StoredTemplate.
 */

const USERNAME_RULE = /^[a-z0-9][a-z0-9._-]{2,31}$/;

/** Usernames compare case-insensitively and after Unicode compatibility folding. */
export function normaliseUsername(raw: string): string {
  return raw.normalize('NFKC').trim().toLowerCase();
}

const SignupSchema = z.object({
  username: z.string().transform(normaliseUsername).pipe(z.string().regex(USERNAME_RULE, '3 to 32 characters: letters, digits, dot, dash or underscore, starting with a letter or digit')),
  email: z.string().trim().max(254).pipe(z.email('a valid email address')),
  name: z.string().trim().max(100, 'at most 100 characters').default(''),
  consent: z.literal(['yes', 'on', 'true'], { error: 'you must agree to the processing of your face template' }),
});

export type SignupInput = z.output<typeof SignupSchema>;

/** A username as sign-up would take it (normalised), or signup_invalid (422). */
export function validateUsername(raw: string): string {
  const parsed = SignupSchema.shape.username.safeParse(raw);
  if (!parsed.success) throw new AppError('signup_invalid', `Please check the username — ${parsed.error.issues[0]?.message ?? 'not valid'}.`, { status: 422 });
  return parsed.data;
}

export function validateSignup(fields: Record<string, string | undefined>): SignupInput {
  const parsed = SignupSchema.safeParse(fields);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((issue) => `${String(issue.path[0] ?? 'form')}: ${issue.message}`).join('; ');
    throw new AppError('signup_invalid', `Please check the form — ${detail}.`, { status: 422 });
  }
  return parsed.data;
}

export interface AccountServiceDeps {
  db: Db;
  accounts: AccountQueries;
  templates: TemplateQueries;
  payloads: OidcPayloadQueries;
  forgets: CustodianForgetQueries;
  audit: Audit;
  /** The account's key at the custodian: forgotten when the account is deleted. */
  custodian: { subjectOf(accountId: string): string; forget(subject: string): Promise<boolean> };
  logger?: Logger;
}

/** The account's template as the biometric module sees it, plus what the account page shows. */
export interface AccountTemplate {
  template: StoredTemplate;
  createdAt: Date;
}

const templateRow = (accountId: string, template: StoredTemplate): NewTemplate => ({
  account_id: accountId,
  ciphertext: Buffer.from(template.ciphertext),
  he_params: template.heParams,
  model_version: template.modelVersion,
  key_id: template.keyId ? Buffer.from(template.keyId) : null,
  mac: template.mac ? Buffer.from(template.mac) : null,
});

/** The only place that knows the face_templates column names. */
const fromRow = (row: TemplateRow): AccountTemplate => ({
  template: { ciphertext: row.ciphertext, heParams: row.he_params, modelVersion: row.model_version, keyId: row.key_id, mac: row.mac },
  createdAt: row.created_at,
});

const usernameTaken = (cause?: unknown) => new AppError('username_taken', 'That username is taken. Please choose another.', { status: 409, cause });

export function createAccountService(deps: AccountServiceDeps) {
  const logger = deps.logger ?? silentLogger;

  /** Destroys the custodian keys of deleted accounts; what fails stays queued for the sweeper. */
  async function forgetAtCustodian(subject: string): Promise<void> {
    try {
      await deps.custodian.forget(subject);
      await deps.forgets.done(subject);
    } catch (error) {
      logger.warn({ err: error }, 'the custodian could not forget a deleted account yet; will retry');
    }
  }

  return {
    /** Creates the account and its template in one transaction (activated at the custodian inside it). */
    async create(id: string, input: SignupInput, template: StoredTemplate, activate: () => Promise<void>, context: { ip?: string; clientId?: string } = {}): Promise<AccountRow> {
      let account: AccountRow;
      try {
        account = await deps.db.transaction(async (trx) => {
          const row = await deps.accounts.insert(
            { id, username: input.username, email: input.email, email_verified: false, name: input.name, biometric_consent_at: new Date() },
            trx,
          );
          await deps.templates.upsert(templateRow(id, template), trx);
          // In the transaction: an account is never created without its audit event, nor the reverse.
          await deps.audit.record({ type: 'signup', outcome: 'success', accountId: id, clientId: context.clientId ?? null, ip: context.ip ?? null }, trx);
          await activate();
          return row;
        });
      } catch (cause) {
        if ((cause as { code?: string }).code === '23505') throw usernameTaken(cause);
        throw cause;
      }
      return account;
    },

    /** Refused with username_taken (409); for the sign-up, after its face work (see flow.ts). */
    async assertUsernameFree(username: string): Promise<void> {
      if (await deps.accounts.findByUsername(normaliseUsername(username))) throw usernameTaken();
    },

    findByUsername: (username: string) => deps.accounts.findByUsername(normaliseUsername(username)),
    findById: (id: string) => deps.accounts.findById(id),

    async template(accountId: string): Promise<AccountTemplate | undefined> {
      const row = await deps.templates.findByAccount(accountId);
      return row && fromRow(row);
    },

    /**
     * Replaces the template (activated at the custodian in the same transaction; the old key is
     * destroyed). `audit`: an event recorded in that transaction (the operator's face reset).
     */
    async replaceTemplate(accountId: string, template: StoredTemplate, activate: () => Promise<void>, audit?: AuditEvent): Promise<void> {
      await deps.db.transaction(async (trx) => {
        await deps.templates.upsert(templateRow(accountId, template), trx);
        if (audit) await deps.audit.record(audit, trx);
        await activate();
      });
    },

    /**
     * Erases the account, its template, grants, tokens and sessions; the audit keeps a pseudonym.
     * The template (and TOTP secret, recovery codes, known devices) go with the account row: ON
     * DELETE CASCADE. Then the custodian destroys the account's key, so the template can never be
     * judged again, not even from a database backup; if the custodian is unreachable the deletion
     * still happens and the key is destroyed later (custodian_forgets, retried by the sweeper).
     */
    async delete(accountId: string, context: { ip?: string; actor?: string } = {}): Promise<boolean> {
      const subject = deps.custodian.subjectOf(accountId);
      const deleted = await deps.db.transaction(async (trx) => {
        await deps.payloads.deleteForAccount(accountId, trx);
        await deps.audit.forget(accountId, trx);
        const gone = await deps.accounts.delete(accountId, trx);
        if (gone) {
          await deps.forgets.add(subject, trx);
          // With the deletion, in its transaction: both happen or neither.
          await deps.audit.record({
            type: 'account_deleted',
            outcome: 'success',
            accountId: deps.audit.pseudonym(accountId),
            ip: context.ip ?? null,
            detail: { actor: context.actor ?? 'user' },
          }, trx);
        }
        return gone;
      });
      // After the commit: the key's destruction is queued (custodian_forgets), so this may fail and be retried.
      if (deleted) await forgetAtCustodian(subject);
      return deleted;
    },

    /**
     * An operator's lock: the account stays, but sign-in is refused (flow.ts, account_locked) and
     * its sessions, grants and tokens end now, in the same transaction. Returns whether it exists.
     */
    async lock(accountId: string, reason: string, context: { ip?: string; actor: string; operator?: string }): Promise<boolean> {
      const locked = await deps.db.transaction(async (trx) => {
        if (!(await deps.accounts.setLock(accountId, { reason }, trx))) return false;
        await deps.payloads.deleteForAccount(accountId, trx);
        return true;
      });
      if (locked) await deps.audit.record({ type: 'account_locked', outcome: 'success', accountId, ip: context.ip ?? null, detail: { actor: context.actor, ...(context.operator ? { operator: context.operator } : {}) } });
      return locked;
    },

    async unlock(accountId: string, context: { ip?: string; actor: string; operator?: string }): Promise<boolean> {
      const unlocked = await deps.accounts.setLock(accountId, null);
      if (unlocked) await deps.audit.record({ type: 'account_unlocked', outcome: 'success', accountId, ip: context.ip ?? null, detail: { actor: context.actor, ...(context.operator ? { operator: context.operator } : {}) } });
      return unlocked;
    },

    /**
     * Removes the face template (an operator's "reset face"): the face no longer signs in until
     * an operator re-enrolls the person (`cli user:reset-face`). The custodian is asked to destroy
     * the old key at once; if it is unreachable the key stays until the re-enrollment replaces it
     * (it is not queued for the sweeper, which would destroy the new key of a quick re-enrollment).
     * Returns false when the account has no template.
     */
    async removeTemplate(accountId: string, context: { ip?: string; actor: string; operator?: string }): Promise<boolean> {
      const removed = await deps.templates.remove(accountId);
      if (!removed) return false;
      try {
        await deps.custodian.forget(deps.custodian.subjectOf(accountId));
      } catch (error) {
        logger.warn({ err: error }, 'the custodian could not forget a removed template yet');
      }
      await deps.audit.record({ type: 'face_removed', outcome: 'success', accountId, ip: context.ip ?? null, detail: { actor: context.actor, ...(context.operator ? { operator: context.operator } : {}) } });
      return true;
    },

    /** Retries the custodian deletions that could not be done at once (the sweeper). */
    async retryForgets(): Promise<number> {
      const pending = await deps.forgets.list();
      for (const subject of pending) await forgetAtCustodian(subject);
      return pending.length;
    },
  };
}

export type AccountService = ReturnType<typeof createAccountService>;

/** The error codes this module raises (see src/shared/errors.ts). */
declare module '../shared/errors.ts' {
  interface ErrorCodes {
    account_locked: true;
    signup_invalid: true;
    username_taken: true;
  }
}
