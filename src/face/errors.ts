import { AppError } from '../shared/index.ts';

/**
 * Every refusal of the face module, with its stable code and HTTP status. Messages are safe to
 * show to the user (they never contain image data, dimensions of someone else's face, or scores).
 */
export const FACE_ERRORS = {
  bad_image: { status: 400, message: 'The picture is not a readable JPEG or PNG image.' },
  image_too_large: { status: 413, message: 'The picture is too large.' },
  no_face: { status: 422, message: 'No face was found in the picture.' },
  multiple_faces: { status: 422, message: 'More than one face is in the picture: only the person signing in should be in view.' },
  face_too_small: { status: 422, message: 'The face is too small or too far from the camera: come closer.' },
  face_turned: { status: 422, message: 'The face is turned away from the camera: look straight at it.' },
  face_blurred: { status: 422, message: 'The picture of the face is blurred: hold still, with the face well lit.' },
  frames_disagree: { status: 422, message: 'The pictures do not show the same face consistently: try again.' },
  face_engine_unavailable: { status: 503, message: 'Face recognition is temporarily unavailable.' },
} as const;

export type FaceErrorCode = keyof typeof FACE_ERRORS;

export function isFaceErrorCode(value: unknown): value is FaceErrorCode {
  return typeof value === 'string' && Object.hasOwn(FACE_ERRORS, value);
}

export function faceError(code: FaceErrorCode, detail?: string, cause?: unknown): AppError {
  const { status, message } = FACE_ERRORS[code];
  // `detail` is for developers (it stays in the message only for 4xx, which are exposed anyway and
  // carry no biometric data); 5xx messages are masked by the HTTP layer.
  return new AppError(code, detail ? `${message} (${detail})` : message, { status, cause });
}

type FaceErrorCodes = Record<FaceErrorCode, true>;
declare module '../shared/errors.ts' {
  // The face module's codes are the keys of FACE_ERRORS above.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface ErrorCodes extends FaceErrorCodes {}
}
