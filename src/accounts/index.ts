import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AccountQueries, AccountRow, Db, OidcPayloadQueries, TemplateQueries } from '../db/index.ts';
import type { Audit } from '../audit/index.ts';
import type { EnrolledTemplate } from '../biometric/index.ts';
import { AppError } from '../shared/index.ts';

/**
 * Accounts and their single face template. Creation and deletion are one transaction each, so
 * an account never exists without its template and a deletion never leaves a template, grant or
 * session behind.
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
  audit: Audit;
}

const templateRow = (accountId: string, template: EnrolledTemplate) => ({
  account_id: accountId,
  ciphertext: Buffer.from(template.ciphertext),
  he_params: template.heParams,
  model_version: template.modelVersion,
});

export function createAccountService(deps: AccountServiceDeps) {
  return {
    async create(input: SignupInput, template: EnrolledTemplate, context: { ip?: string; clientId?: string } = {}): Promise<AccountRow> {
      const id = randomUUID();
      let account: AccountRow;
      try {
        account = await deps.db.transaction(async (trx) => {
          const row = await deps.accounts.insert(
            { id, username: input.username, email: input.email, email_verified: false, name: input.name, biometric_consent_at: new Date() },
            trx,
          );
          await deps.templates.upsert(templateRow(id, template), trx);
          return row;
        });
      } catch (cause) {
        if ((cause as { code?: string }).code === '23505') {
          throw new AppError('username_taken', 'That username is taken. Please choose another.', { status: 409, cause });
        }
        throw cause;
      }
      await deps.audit.record({ type: 'signup', outcome: 'success', accountId: id, clientId: context.clientId ?? null, ip: context.ip ?? null });
      return account;
    },

    findByUsername: (username: string) => deps.accounts.findByUsername(normaliseUsername(username)),
    findById: (id: string) => deps.accounts.findById(id),
    template: (id: string) => deps.templates.findByAccount(id),

    async replaceTemplate(accountId: string, template: EnrolledTemplate): Promise<void> {
      await deps.templates.upsert(templateRow(accountId, template));
    },

    /**
     * Erases the account, its template, grants, tokens and sessions; the audit keeps a pseudonym.
     * The template (and TOTP secret, recovery codes) go with the account row: ON DELETE CASCADE.
     */
    async delete(accountId: string, context: { ip?: string; actor?: string } = {}): Promise<boolean> {
      const deleted = await deps.db.transaction(async (trx) => {
        await deps.payloads.deleteForAccount(accountId, trx);
        await deps.audit.forget(accountId, trx);
        return deps.accounts.delete(accountId, trx);
      });
      if (deleted) {
        await deps.audit.record({
          type: 'account_deleted',
          outcome: 'success',
          accountId: deps.audit.pseudonym(accountId),
          ip: context.ip ?? null,
          detail: { actor: context.actor ?? 'user' },
        });
      }
      return deleted;
    },
  };
}

export type AccountService = ReturnType<typeof createAccountService>;
