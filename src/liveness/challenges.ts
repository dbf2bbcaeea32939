import { randomBytes, randomInt } from 'node:crypto';
import type { LivenessQueries } from '../db/index.ts';
import { AppError, systemClock, type Clock } from '../shared/index.ts';

/** What the camera page asks the user to do, in the camera's (unmirrored) terms of the user's own body. */
export type Action = 'turn_left' | 'turn_right' | 'look_up' | 'blink';
export const ACTIONS: readonly Action[] = ['turn_left', 'turn_right', 'look_up', 'blink'];

export interface Challenge {
  id: string;
  actions: Action[];
  issuedAt: number;
  expiresAt: number;
}

/** Picks the actions of a new challenge. Tests inject a fixed one through createChallenges' deps. */
export type ActionGenerator = () => Action[];

/**
 * The default: two or three head turns, alternating, direction and length at random (4 equally
 * likely sequences). Only turns, because the thresholds for looking up and blinking could not be
 * measured on genuine motion (the genuine clip has neither; README, "Presentation-attack
 * detection"); verify() can check them once they are.
 */
export const TURN_SEQUENCES: readonly (readonly Action[])[] = [
  ['turn_left', 'turn_right'],
  ['turn_right', 'turn_left'],
  ['turn_left', 'turn_right', 'turn_left'],
  ['turn_right', 'turn_left', 'turn_right'],
];
export const randomTurns: ActionGenerator = () => [...TURN_SEQUENCES[randomInt(TURN_SEQUENCES.length)]!];

export interface ChallengesDeps {
  queries: Pick<LivenessQueries, 'insert' | 'spend'>;
  clock?: Clock;
  generate?: ActionGenerator;
  /** How long a challenge may be answered (the user reads the prompts and moves). */
  ttlMs?: number;
}

export const CHALLENGE_TTL_MS = 90_000;

/**
 * Challenges are random, bound to what they are for (`binding`: an interaction, a sign-up page,
 * an account session), spent by the first upload that names them, and expire: a burst recorded
 * for one challenge cannot answer another, and none is answered twice.
 */
export function createChallenges(deps: ChallengesDeps) {
  const clock = deps.clock ?? systemClock;
  const generate = deps.generate ?? randomTurns;
  const ttlMs = deps.ttlMs ?? CHALLENGE_TTL_MS;
  return {
    async issue(binding: string): Promise<Challenge> {
      const actions = generate();
      if (actions.length < 2 || actions.some((action) => !ACTIONS.includes(action))) throw new Error('a challenge needs at least two known actions');
      const issuedAt = clock.now();
      const challenge: Challenge = { id: randomBytes(18).toString('base64url'), actions, issuedAt, expiresAt: issuedAt + ttlMs };
      await deps.queries.insert({ id: challenge.id, binding, actions, issuedAt: new Date(issuedAt), expiresAt: new Date(challenge.expiresAt) });
      return challenge;
    },

    /** Spends the challenge for this binding; the receipt time is when the upload arrived. */
    async spend(id: string, binding: string): Promise<Challenge & { receivedAt: number }> {
      const receivedAt = clock.now();
      if (!/^[\w-]{16,64}$/.test(id)) throw new AppError('challenge_invalid', 'This camera check is not valid. Please start it again.', { status: 400 });
      const result = await deps.queries.spend(id, binding, new Date(receivedAt));
      if ('refused' in result) {
        if (result.refused === 'used') throw new AppError('challenge_replayed', 'This camera check was already used. Please start it again.', { status: 409 });
        if (result.refused === 'expired') throw new AppError('challenge_expired', 'The camera check took too long. Please start it again.', { status: 400 });
        throw new AppError('challenge_invalid', 'This camera check is not for this page. Please start it again.', { status: 400 });
      }
      const row = result.row;
      return { id: row.id, actions: row.actions as Action[], issuedAt: row.issued_at.getTime(), expiresAt: row.expires_at.getTime(), receivedAt };
    },
  };
}

export type Challenges = ReturnType<typeof createChallenges>;
