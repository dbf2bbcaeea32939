import { describe, expect, it } from 'vitest';
import { ACR_FACE, ACR_FACE_OTP, ACR_PASSKEY, ACR_PASSKEY_FACE, amrOf, firstFactors, levelsFor, nextStep, type Acr, type Factor, type FactorDone } from '../../../src/policy/index.ts';

/**
 * The policy table, exhaustively: for every request (each acr value, or none) and every set of
 * factors an account can have, walk a sign-in the way the pages do — the entry the user picks,
 * then whatever nextStep asks — and compare the steps and the result with the expected table.
 */
const PASSKEY_FACE_AMR = ['hwk', 'user', 'face', 'mfa'];

/** Walks a sign-in: performs each asked factor until done or unmet. */
function walk(entry: Factor, acceptable: Acr[] | undefined, enrolled: Factor[], passkeyOnly = false): string {
  const done: FactorDone[] = [];
  const steps: string[] = [];
  let factor: Factor | undefined = entry;
  for (let guard = 0; guard < 5 && factor; guard += 1) {
    steps.push(factor);
    done.push(factor === 'passkey' ? { factor, backedUp: false, userVerified: true } : { factor });
    const next = nextStep({ acceptable, enrolled: new Set(enrolled), done, passkeyOnly });
    if (next.kind === 'ask') factor = next.factor;
    else return `${steps.join('>')} => ${next.kind === 'done' ? `${next.acr.split(':').pop()} [${next.amr.join(',')}]` : 'unmet'}`;
  }
  throw new Error('the walk did not end');
}

type Row = [request: Acr | 'none', enrolled: Factor[], entry: Factor, expected: string];
const TABLE: Row[] = [
  // A face-only account: the face alone, or unmet for anything stronger.
  ['none', ['face'], 'face', 'face => face [face]'],
  [ACR_FACE, ['face'], 'face', 'face => face [face]'],
  [ACR_FACE_OTP, ['face'], 'face', 'face => unmet'],
  [ACR_PASSKEY_FACE, ['face'], 'face', 'face => unmet'],
  [ACR_PASSKEY, ['face'], 'face', 'face => unmet'],
  // Face and TOTP: the code always follows the face.
  ['none', ['face', 'otp'], 'face', 'face>otp => face-otp [face,otp,mfa]'],
  [ACR_FACE, ['face', 'otp'], 'face', 'face>otp => face-otp [face,otp,mfa]'],
  [ACR_FACE_OTP, ['face', 'otp'], 'face', 'face>otp => face-otp [face,otp,mfa]'],
  [ACR_PASSKEY_FACE, ['face', 'otp'], 'face', 'face => unmet'],
  [ACR_PASSKEY, ['face', 'otp'], 'face', 'face => unmet'],
  // Face and a passkey: from the username the passkey follows the face; from the passkey button the face follows it.
  ['none', ['face', 'passkey'], 'face', 'face>passkey => passkey-face [face,hwk,user,mfa]'],
  [ACR_FACE, ['face', 'passkey'], 'face', 'face>passkey => passkey-face [face,hwk,user,mfa]'],
  [ACR_FACE_OTP, ['face', 'passkey'], 'face', 'face>passkey => passkey-face [face,hwk,user,mfa]'],
  [ACR_PASSKEY_FACE, ['face', 'passkey'], 'face', 'face>passkey => passkey-face [face,hwk,user,mfa]'],
  [ACR_PASSKEY, ['face', 'passkey'], 'face', 'face => unmet'],
  ['none', ['face', 'passkey'], 'passkey', 'passkey>face => passkey-face [hwk,user,face,mfa]'],
  [ACR_FACE, ['face', 'passkey'], 'passkey', 'passkey>face => passkey-face [hwk,user,face,mfa]'],
  [ACR_FACE_OTP, ['face', 'passkey'], 'passkey', 'passkey>face => passkey-face [hwk,user,face,mfa]'],
  [ACR_PASSKEY_FACE, ['face', 'passkey'], 'passkey', 'passkey>face => passkey-face [hwk,user,face,mfa]'],
  [ACR_PASSKEY, ['face', 'passkey'], 'passkey', 'passkey => unmet'], // a passkey alone is off unless the deployment allows it
  // All three: the passkey is the stronger second factor; the code is not asked as well.
  ['none', ['face', 'otp', 'passkey'], 'face', 'face>passkey => passkey-face [face,hwk,user,mfa]'],
  [ACR_FACE, ['face', 'otp', 'passkey'], 'face', 'face>passkey => passkey-face [face,hwk,user,mfa]'],
  [ACR_FACE_OTP, ['face', 'otp', 'passkey'], 'face', 'face>passkey => passkey-face [face,hwk,user,mfa]'],
  [ACR_PASSKEY_FACE, ['face', 'otp', 'passkey'], 'face', 'face>passkey => passkey-face [face,hwk,user,mfa]'],
  [ACR_PASSKEY, ['face', 'otp', 'passkey'], 'face', 'face => unmet'],
  ['none', ['face', 'otp', 'passkey'], 'passkey', 'passkey>face => passkey-face [hwk,user,face,mfa]'],
  [ACR_FACE, ['face', 'otp', 'passkey'], 'passkey', 'passkey>face => passkey-face [hwk,user,face,mfa]'],
  [ACR_FACE_OTP, ['face', 'otp', 'passkey'], 'passkey', 'passkey>face => passkey-face [hwk,user,face,mfa]'],
  [ACR_PASSKEY_FACE, ['face', 'otp', 'passkey'], 'passkey', 'passkey>face => passkey-face [hwk,user,face,mfa]'],
  [ACR_PASSKEY, ['face', 'otp', 'passkey'], 'passkey', 'passkey => unmet'],
];

/** Every request x every set of factors an account can have x every way a sign-in can start. */
const REQUESTS: Array<Acr | 'none'> = ['none', ACR_FACE, ACR_FACE_OTP, ACR_PASSKEY_FACE, ACR_PASSKEY];
const FACTOR_SETS: Factor[][] = [['face'], ['face', 'otp'], ['face', 'passkey'], ['face', 'otp', 'passkey']];

describe('the sign-in policy table', () => {
  it('covers every request, every factor set and every entry (a usernameless entry needs a passkey)', () => {
    const expected = REQUESTS.flatMap((request) => FACTOR_SETS.flatMap((set) => (set.includes('passkey') ? ['face', 'passkey'] : ['face']).map((entry) => `${request} ${set.join('+')} ${entry}`)));
    expect(TABLE.map(([request, set, entry]) => `${request} ${set.join('+')} ${entry}`).sort()).toEqual(expected.sort());
  });

  it.each(TABLE)('request %s, account %j, starting with %s: %s', (request, enrolled, entry, expected) => {
    expect(walk(entry, request === 'none' ? undefined : [request], enrolled)).toBe(expected);
  });

  it('a passkey alone signs in only where the deployment allows it and the relying party asks for it', () => {
    expect(walk('passkey', [ACR_PASSKEY], ['face', 'passkey'], true)).toBe('passkey => passkey [hwk,user]');
    expect(walk('passkey', undefined, ['face', 'passkey'], true)).toBe(`passkey>face => passkey-face [${PASSKEY_FACE_AMR.join(',')}]`);
  });

  it('a recovery code in place of a lost passkey is a one-time password: face + otp', () => {
    const next = nextStep({ acceptable: undefined, enrolled: new Set<Factor>(['face', 'passkey']), done: [{ factor: 'face' }, { factor: 'otp' }], passkeyOnly: false });
    expect(next).toEqual({ kind: 'done', acr: ACR_FACE_OTP, amr: ['face', 'otp', 'mfa'] });
    expect(nextStep({ acceptable: [ACR_PASSKEY_FACE], enrolled: new Set<Factor>(['face', 'passkey']), done: [{ factor: 'face' }, { factor: 'otp' }], passkeyOnly: false })).toEqual({ kind: 'unmet' });
  });

  it('names passkeys by what the authenticator said (RFC 8176: hwk, swk, user)', () => {
    expect(amrOf([{ factor: 'passkey', backedUp: true, userVerified: false }, { factor: 'face' }])).toEqual(['swk', 'face', 'mfa']);
    expect(amrOf([{ factor: 'passkey', backedUp: false, userVerified: true }])).toEqual(['hwk', 'user']);
    expect(amrOf([{ factor: 'face' }])).toEqual(['face']);
  });

  it('lists the levels an account reaches (the account page)', () => {
    expect(levelsFor(new Set<Factor>(['face']), false).map((l) => l.acr)).toEqual([ACR_FACE]);
    expect(levelsFor(new Set<Factor>(['face', 'otp', 'passkey']), false).map((l) => l.acr)).toEqual([ACR_FACE, ACR_FACE_OTP, ACR_PASSKEY_FACE]);
    expect(levelsFor(new Set<Factor>(['face', 'passkey']), true).map((l) => l.acr)).toEqual([ACR_FACE, ACR_PASSKEY_FACE, ACR_PASSKEY]);
  });

  it('knows what a sign-in can start with (the login page leads with the passkey when only it fits)', () => {
    expect([...firstFactors(undefined, false)].sort()).toEqual(['face', 'passkey']);
    expect([...firstFactors([ACR_FACE], false)].sort()).toEqual(['face', 'passkey']);
    expect([...firstFactors([ACR_PASSKEY_FACE], false)]).toEqual(['passkey']);
    expect([...firstFactors([ACR_PASSKEY], false)]).toEqual([]);
    expect([...firstFactors([ACR_PASSKEY], true)]).toEqual(['passkey']);
  });
});
