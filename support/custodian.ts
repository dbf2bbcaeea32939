import { randomBytes } from 'node:crypto';
import type { CustodianClient } from '../src/custodian/index.ts';
import { templateHash } from '../src/biometric/index.ts';
import type { HeEngine } from '../src/he/index.ts';

/**
 * The custodian protocol as the IdP drives it, for tests that talk to a real custodian directly
 * (its socket): enroll a descriptor under a subject, then judge probes against it.
 */
export interface Enrolled {
  subject: string;
  template: Uint8Array;
  hash: string;
  keyId: Uint8Array;
}

export const newSubject = (label = 'subject') => `${label}-${randomBytes(6).toString('hex')}`;

export async function enrollAt(client: CustodianClient, engine: HeEngine, descriptor: Float32Array, subject = newSubject()): Promise<Enrolled> {
  const key = await client.register(subject);
  const template = engine.encryptTemplate(descriptor, key);
  const hash = templateHash(template);
  await client.activate(subject, key.keyId, hash);
  return { subject, template, hash, keyId: key.keyId };
}

export async function judgeAt(client: CustodianClient, engine: HeEngine, enrolled: Enrolled, probe: Float32Array, threshold = 0.5): Promise<'match' | 'no_match'> {
  const ticket = await client.ticket(enrolled.subject, enrolled.hash);
  return client.judge(ticket.ticket, engine.matchAndBlind(enrolled.template, probe, threshold, ticket.key));
}
