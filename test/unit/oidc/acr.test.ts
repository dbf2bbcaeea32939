import { describe, expect, it } from 'vitest';
import { ACR_FACE, ACR_FACE_OTP, assertedAcr, requiredAcr, satisfies, type AcrParams } from '../../../src/oidc/index.ts';

/** acr values: what a request requires, what an authentication satisfies, what the ID token says. */
const claims = (acr: Record<string, unknown>) => JSON.stringify({ id_token: { acr } });

describe('requiredAcr: the weakest acr the relying party accepts', () => {
  it.each<[string, AcrParams, string | undefined]>([
    ['nothing asked', {}, undefined],
    ['face', { acr_values: ACR_FACE }, ACR_FACE],
    ['face+otp', { acr_values: ACR_FACE_OTP }, ACR_FACE_OTP],
    ['either: the weaker counts', { acr_values: `${ACR_FACE_OTP} ${ACR_FACE}` }, ACR_FACE],
    ['unknown values only', { acr_values: 'urn:other:gold urn:other:silver' }, undefined],
    ['unknown and known', { acr_values: `urn:other:gold ${ACR_FACE_OTP}` }, ACR_FACE_OTP],
    ['an essential acr claim', { claims: claims({ essential: true, value: ACR_FACE_OTP }) }, ACR_FACE_OTP],
    ['an acr claim with values', { claims: claims({ values: [ACR_FACE_OTP, ACR_FACE] }) }, ACR_FACE],
    ['claims plus acr_values', { acr_values: ACR_FACE_OTP, claims: claims({ value: ACR_FACE }) }, ACR_FACE],
    ['a malformed claims parameter (oidc-provider refuses it first)', { claims: '{not json' }, undefined],
    ['a non-string acr_values', { acr_values: 7 }, undefined],
  ])('%s', (_case, params, expected) => {
    expect(requiredAcr(params)).toBe(expected);
  });
});

describe('satisfies: a stronger authentication satisfies a weaker requirement, never the reverse', () => {
  it.each<[string | undefined, string | undefined, boolean]>([
    [ACR_FACE, undefined, true],
    [undefined, undefined, true],
    [ACR_FACE, ACR_FACE, true],
    [ACR_FACE_OTP, ACR_FACE, true],
    [ACR_FACE_OTP, ACR_FACE_OTP, true],
    [ACR_FACE, ACR_FACE_OTP, false],
    [undefined, ACR_FACE, false],
    ['urn:other:gold', ACR_FACE, false],
  ])('%s for %s -> %s', (achieved, required, expected) => {
    expect(satisfies(achieved, required as never)).toBe(expected);
  });
});

describe('assertedAcr: what the ID token says', () => {
  it.each<[string, string, AcrParams, string]>([
    ['what was achieved, when nothing was asked', ACR_FACE_OTP, {}, ACR_FACE_OTP],
    ['the asked value a stronger authentication satisfies (no exact-match loop)', ACR_FACE_OTP, { claims: claims({ essential: true, value: ACR_FACE }) }, ACR_FACE],
    ['the strongest asked value satisfied', ACR_FACE_OTP, { acr_values: `${ACR_FACE} ${ACR_FACE_OTP}` }, ACR_FACE_OTP],
    ['what was achieved, when the asked value is stronger', ACR_FACE, { acr_values: ACR_FACE_OTP }, ACR_FACE],
  ])('%s', (_case, achieved, params, expected) => {
    expect(assertedAcr(achieved as never, params)).toBe(expected);
  });
});
