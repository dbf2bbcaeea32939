import { describe, expect, it } from 'vitest';
import { ACR_FACE, ACR_FACE_OTP, ACR_PASSKEY, ACR_PASSKEY_FACE, acceptableAcrs, assertedAcr, satisfies, type Acr, type AcrParams } from '../../../src/policy/index.ts';

/** acr values: what a request accepts, what an authentication satisfies, what the ID token says. */
const claims = (acr: Record<string, unknown>) => JSON.stringify({ id_token: { acr } });

describe('acceptableAcrs: what the relying party accepts', () => {
  it.each<[string, AcrParams, Acr[] | undefined]>([
    ['nothing asked', {}, undefined],
    ['face', { acr_values: ACR_FACE }, [ACR_FACE]],
    ['face+otp', { acr_values: ACR_FACE_OTP }, [ACR_FACE_OTP]],
    ['either', { acr_values: `${ACR_FACE_OTP} ${ACR_FACE}` }, [ACR_FACE_OTP, ACR_FACE]],
    ['unknown values only', { acr_values: 'urn:other:gold urn:other:silver' }, undefined],
    ['unknown and known', { acr_values: `urn:other:gold ${ACR_PASSKEY_FACE}` }, [ACR_PASSKEY_FACE]],
    ['an essential acr claim', { claims: claims({ essential: true, value: ACR_FACE_OTP }) }, [ACR_FACE_OTP]],
    ['an acr claim with values', { claims: claims({ values: [ACR_FACE_OTP, ACR_FACE] }) }, [ACR_FACE_OTP, ACR_FACE]],
    ['claims plus acr_values, without repeats', { acr_values: ACR_FACE_OTP, claims: claims({ value: ACR_FACE_OTP }) }, [ACR_FACE_OTP]],
    ['a malformed claims parameter (oidc-provider refuses it first)', { claims: '{not json' }, undefined],
    ['a non-string acr_values', { acr_values: 7 }, undefined],
  ])('%s', (_case, params, expected) => {
    expect(acceptableAcrs(params)).toEqual(expected);
  });
});

describe('satisfies: the table of which authentication meets which request', () => {
  const ALL: Acr[] = [ACR_FACE, ACR_FACE_OTP, ACR_PASSKEY_FACE, ACR_PASSKEY];
  // achieved -> the requests it meets
  const MEETS: Record<Acr, Acr[]> = {
    [ACR_FACE]: [ACR_FACE],
    [ACR_FACE_OTP]: [ACR_FACE, ACR_FACE_OTP],
    [ACR_PASSKEY_FACE]: [ACR_FACE, ACR_FACE_OTP, ACR_PASSKEY_FACE],
    [ACR_PASSKEY]: [ACR_PASSKEY],
  };
  for (const achieved of ALL) {
    for (const required of ALL) {
      const expected = MEETS[achieved].includes(required);
      it(`${achieved.split(':').pop()} ${expected ? 'meets' : 'does not meet'} a request for ${required.split(':').pop()}`, () => {
        expect(satisfies(achieved, [required])).toBe(expected);
      });
    }
  }
  it('no requirement is met by anything; an unknown or missing acr meets no requirement', () => {
    expect(satisfies(undefined, undefined)).toBe(true);
    expect(satisfies(undefined, [ACR_FACE])).toBe(false);
    expect(satisfies('urn:other:gold', [ACR_FACE])).toBe(false);
    expect(satisfies(ACR_FACE, [ACR_PASSKEY, ACR_FACE])).toBe(true);
  });
});

describe('assertedAcr: what the ID token says', () => {
  it.each<[string, Acr, AcrParams, Acr]>([
    ['what was achieved, when nothing was asked', ACR_FACE_OTP, {}, ACR_FACE_OTP],
    ['the asked value a stronger authentication satisfies (no exact-match loop)', ACR_FACE_OTP, { claims: claims({ essential: true, value: ACR_FACE }) }, ACR_FACE],
    ['the strongest asked value satisfied', ACR_PASSKEY_FACE, { acr_values: `${ACR_FACE} ${ACR_FACE_OTP}` }, ACR_FACE_OTP],
    ['what was achieved, when the asked value is not met', ACR_FACE, { acr_values: ACR_FACE_OTP }, ACR_FACE],
  ])('%s', (_case, achieved, params, expected) => {
    expect(assertedAcr(achieved, params)).toBe(expected);
  });
});
