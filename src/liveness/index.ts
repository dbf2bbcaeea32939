/**
 * Presentation-attack detection (ISO/IEC 30107): an active challenge (random head turns, bound,
 * single-use, expiring: challenges.ts) answered by a burst of camera frames that the server checks
 * for one continuous live face doing what was asked, in 3D (verify.ts, geometry.ts). Framework-free:
 * the face engine comes in as a port; nothing the browser says about liveness is trusted, only
 * its frames and their capture times, whose shape is checked.
 */
import { createHmac } from 'node:crypto';
import type { LivenessQueries } from '../db/index.ts';
import { AppError, systemClock, type Clock } from '../shared/index.ts';
import { createChallenges, type ActionGenerator, type Challenge } from './challenges.ts';
import { DEFAULT_LIVENESS_LIMITS, verifyBurst, type LivenessLimits, type LivenessReason, type Observation } from './verify.ts';

export { ACTIONS, TURN_SEQUENCES, randomTurns, CHALLENGE_TTL_MS, type Action, type ActionGenerator, type Challenge } from './challenges.ts';
export { appearanceStep, DEFAULT_LIVENESS_LIMITS, verifyBurst, type BurstVerdict, type LivenessLimits, type LivenessReason, type Observation } from './verify.ts';
export { planarResidual, pose, type Pose } from './geometry.ts';

/** How the page should capture (sent with each challenge; measured: bench/liveness.ts). */
export const CAPTURE = Object.freeze({ intervalMs: 200, minFrames: DEFAULT_LIVENESS_LIMITS.minFrames, maxFrames: DEFAULT_LIVENESS_LIMITS.maxFrames, maxDurationMs: 8_000 });

export interface LivenessFace {
  observe(frames: Uint8Array[]): Promise<Observation[]>;
}

export interface LivenessDeps {
  queries: Pick<LivenessQueries, 'insert' | 'spend' | 'seeFrames'>;
  face: LivenessFace;
  /** Key of the frame hashes (replay detection), from the IdP's derived keys. */
  frameKey: Buffer;
  clock?: Clock;
  generate?: ActionGenerator;
  limits?: Partial<LivenessLimits>;
}

export interface BurstSubmission {
  /** What the challenge was issued for (e.g. `interaction:<uid>`). */
  binding: string;
  challengeId: string;
  /** Capture times, ms, one per frame. */
  times: number[];
  frames: Uint8Array[];
}

/** Refusals the user can fix get their own code; everything an attack produces reads the same. */
const USER_CODES: Partial<Record<LivenessReason, { code: 'liveness_face_lost' | 'liveness_multiple_faces' | 'liveness_face_too_small' | 'liveness_action_missing' | 'liveness_wrong_order' | 'liveness_timing'; message: string }>> = {
  face_lost: { code: 'liveness_face_lost', message: 'We lost sight of your face during the check. Keep your whole face in the picture and try again.' },
  multiple_faces: { code: 'liveness_multiple_faces', message: 'More than one face was in the picture. Make sure only you are in view and try again.' },
  face_too_small: { code: 'liveness_face_too_small', message: 'Your face was too far from the camera. Come a little closer and try again.' },
  action_missing: { code: 'liveness_action_missing', message: 'We did not see every turn that was asked. Turn your head a little further each time and try again.' },
  wrong_order: { code: 'liveness_wrong_order', message: 'The turns came in a different order from the prompts. Follow the prompts one at a time and try again.' },
  timing: { code: 'liveness_timing', message: 'The camera check was not recorded properly. Please try again.' },
};

export class LivenessRefusal extends AppError {
  /** Attack-indicative refusals count as failed attempts (NIST SP 800-63B-4 3.2.3). */
  readonly counts: boolean;
  readonly reason: LivenessReason | 'replayed';
  constructor(reason: LivenessReason | 'replayed') {
    const user = reason === 'replayed' ? undefined : USER_CODES[reason];
    if (reason === 'replayed') super('liveness_replayed', 'These camera pictures were already used. Please take the check again.', { status: 409 });
    else if (user) super(user.code, user.message, { status: 422 });
    else super('liveness_failed', 'The camera check did not pass. Please try again, facing the camera in good light and turning your head as asked.', { status: 422 });
    this.reason = reason;
    // A turn not made, or made in the wrong order, is a failed attempt like a face that does not
    // match (a print cannot make the turns); a face out of view or a broken capture is not.
    this.counts = !user || reason === 'action_missing' || reason === 'wrong_order';
  }
}

/** The `times` field of a burst: a JSON array of finite numbers (ms); anything else is a 400. */
export function readCaptureTimes(raw: string | undefined): number[] {
  let value: unknown;
  try {
    value = JSON.parse(raw ?? '');
  } catch {
    value = undefined;
  }
  if (!Array.isArray(value) || value.length > 64 || !value.every((t) => typeof t === 'number' && Number.isFinite(t) && t >= 0 && t < 600_000)) {
    throw new AppError('bad_request', 'The capture times of the pictures are missing or malformed.', { status: 400 });
  }
  return value as number[];
}

/** A burst upload's fields (`challenge`, `times`: a JSON array of capture times) and frames, as a submission for `binding`. */
function burstOf(binding: string, fields: Record<string, string | undefined>, frames: Uint8Array[]): BurstSubmission {
  return { binding, challengeId: fields.challenge ?? '', times: readCaptureTimes(fields.times), frames };
}

/**
 * The frames of an upload that go on to the match or the template: with PAD (`liveness` set), the
 * burst answering `binding`'s challenge is checked and only its most frontal frames go on;
 * without PAD, the frames as uploaded. One rule for every page that captures a face.
 */
export async function framesToMatch(liveness: Liveness | undefined, binding: string, fields: Record<string, string | undefined>, frames: Uint8Array[]): Promise<Uint8Array[]> {
  if (!liveness) return frames;
  return (await liveness.check(burstOf(binding, fields, frames))).keyFrames;
}

/** What a challenge endpoint answers (JSON, the same on every page that captures a burst). */
export function challengeResponse(challenge: Challenge & { capture: typeof CAPTURE }) {
  return { challenge: challenge.id, actions: challenge.actions, expiresAt: new Date(challenge.expiresAt).toISOString(), capture: challenge.capture };
}

export function createLiveness(deps: LivenessDeps) {
  const clock = deps.clock ?? systemClock;
  const limits: LivenessLimits = { ...DEFAULT_LIVENESS_LIMITS, ...deps.limits };
  const challenges = createChallenges({ queries: deps.queries, clock, generate: deps.generate });
  const hash = (frame: Uint8Array) => createHmac('sha256', deps.frameKey).update(frame).digest('base64url');

  return {
    /** A new challenge for `binding`: what the page prompts and how it should capture. */
    async challenge(binding: string): Promise<Challenge & { capture: typeof CAPTURE }> {
      return { ...(await challenges.issue(binding)), capture: CAPTURE };
    },

    /**
     * Checks a burst: spends its challenge (single-use, bound, unexpired), refuses frames seen in
     * an earlier burst, then verifies the burst. Returns the most frontal frames for the match.
     * Throws AppError (challenge_*) or LivenessRefusal.
     */
    async check(burst: BurstSubmission): Promise<{ keyFrames: Uint8Array[]; actions: string[] }> {
      // A malformed burst is refused before its challenge is spent.
      if (burst.frames.length < limits.minFrames || burst.frames.length > limits.maxFrames || burst.times.length !== burst.frames.length) {
        throw new AppError('bad_frame_count', `Between ${limits.minFrames} and ${limits.maxFrames} pictures, each with its capture time, are expected.`, { status: 400 });
      }
      const spent = await challenges.spend(burst.challengeId, burst.binding);
      if (await deps.queries.seeFrames(burst.frames.map(hash), new Date(spent.receivedAt))) throw new LivenessRefusal('replayed');
      const observations = await deps.face.observe(burst.frames);
      const verdict = verifyBurst({ actions: spent.actions, observations, times: burst.times, elapsedMs: spent.receivedAt - spent.issuedAt }, limits);
      for (const o of observations) if (o.ok) { o.descriptor.fill(0); o.appearance.fill(0); }
      if (!verdict.ok) throw new LivenessRefusal(verdict.reason);
      return { keyFrames: verdict.keyFrames.map((i) => burst.frames[i]!), actions: spent.actions };
    },
  };
}

export type Liveness = ReturnType<typeof createLiveness>;

/** The error codes this module raises (see src/shared/errors.ts). */
declare module '../shared/errors.ts' {
  interface ErrorCodes {
    challenge_invalid: true;
    challenge_replayed: true;
    challenge_expired: true;
    liveness_failed: true;
    liveness_replayed: true;
    liveness_face_lost: true;
    liveness_multiple_faces: true;
    liveness_face_too_small: true;
    liveness_action_missing: true;
    liveness_wrong_order: true;
    liveness_timing: true;
  }
}
