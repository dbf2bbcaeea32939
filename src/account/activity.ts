/**
 * The account page's "recent activity" in words: audit events carry stable codes (type and
 * outcome, see src/audit) for operators and tools; a person reads what happened.
 */
const REFUSALS: Record<string, string> = {
  no_face: 'no face in the pictures',
  multiple_faces: 'more than one face',
  face_too_small: 'face too far from the camera',
  face_turned: 'face turned away from the camera',
  face_blurred: 'blurred pictures',
  frames_disagree: 'the pictures did not agree',
  bad_image: 'a picture could not be read',
  liveness_failed: 'not a live person',
};

export function describeActivity(type: string, outcome: string): string {
  switch (type) {
    case 'signin':
      if (outcome === 'success') return 'Signed in';
      if (outcome === 'unmet') return 'Sign-in stopped: the application asked for a factor you have not set up';
      return 'Sign-in refused: face not matched';
    case 'face_refused':
      return `Face not checked: ${REFUSALS[outcome] ?? 'the pictures could not be used'}`;
    case 'totp_denied':
      return 'Wrong one-time code';
    case 'passkey_signin':
      return outcome === 'success' ? 'Passkey used' : 'Passkey refused';
    case 'lockout':
      return 'Sign-in paused after too many failed attempts';
    default:
      return type.replaceAll('_', ' ');
  }
}

/** The types the page lists (the rest, e.g. settings changes, are on the operator's audit page). */
export const ACTIVITY_TYPES = ['signin', 'face_refused', 'totp_denied', 'passkey_signin', 'lockout'];
