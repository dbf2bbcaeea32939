import { faceError } from './errors.ts';
import type { Detection } from './protocol.ts';

/**
 * The one-face rule: which detected face is the subject, or `multiple_faces`.
 *
 * The largest face is the subject. Faces under `secondFaceRatio` of its width are people far
 * behind the user and never count. A comparable face (at least `secondFaceRatio` as wide) is
 * refused, except beside a clearly dominant, central subject: when the subject's centre is in the
 * middle `centralZone` of the frame (both axes) and every comparable face is narrower than
 * `dominantFaceRatio` of it and centred outside that zone, the subject is unambiguous (the person
 * in front of the camera, or the portrait in a photo, with someone at the edge). Two faces of
 * about the same size, or two near the middle, are always refused: which one signs in would be
 * a guess. Measured on LFW by `npm run bench:accuracy` (README, "One-face rule").
 *
 * Liveness bursts use `strict` (any comparable face refuses): a burst's continuity checks assume
 * one person in view, and a second head beside the user is what a photo-swap or identity-switch
 * attempt looks like.
 */
export interface SubjectRule {
  readonly secondFaceRatio: number;
  readonly dominantFaceRatio: number;
  readonly centralZone: number;
}

export function selectSubject(faces: readonly Detection[], frame: { width: number; height: number }, rule: SubjectRule, strict: boolean): Detection {
  const sorted = [...faces].sort((a, b) => b.width - a.width);
  const subject = sorted[0];
  if (!subject) throw faceError('no_face');
  const comparable = sorted.slice(1).filter((f) => f.width >= rule.secondFaceRatio * subject.width);
  if (comparable.length === 0) return subject;
  if (strict || !isCentral(subject, frame, rule.centralZone)) throw faceError('multiple_faces');
  const dominated = comparable.every((f) => f.width < rule.dominantFaceRatio * subject.width && !isCentral(f, frame, rule.centralZone));
  if (!dominated) throw faceError('multiple_faces');
  return subject;
}

/** The face's centre lies in the middle `zone` (a fraction of each side) of the frame. */
function isCentral(face: Detection, frame: { width: number; height: number }, zone: number): boolean {
  const cx = face.x + face.width / 2, cy = face.y + face.height / 2;
  return Math.abs(cx - frame.width / 2) <= (zone * frame.width) / 2 && Math.abs(cy - frame.height / 2) <= (zone * frame.height) / 2;
}
