import { describe, expect, it } from 'vitest';
import { DEFAULT_DETECTION_LIMITS } from '../../../src/face/engine.ts';
import { selectSubject } from '../../../src/face/subject.ts';
import { errorCode, NO_ERROR } from '../../../support/errors.ts';

// The one-face rule on detections (the real pipeline's use of it: test/integration/face/engine.test.ts).
const frame = { width: 640, height: 480 };
const face = (cx: number, cy: number, width: number) => ({ x: cx - width / 2, y: cy - width / 2, width, height: width, score: 0.9 });
const pick = (faces: ReturnType<typeof face>[], strict = false) => selectSubject(faces, frame, DEFAULT_DETECTION_LIMITS, strict);
const refusal = (faces: ReturnType<typeof face>[], strict = false) => errorCode(() => pick(faces, strict));

describe('one-face rule', () => {
  const subject = face(320, 240, 200);

  it('takes the only face, and ignores faces under half its width anywhere', () => {
    expect(pick([subject])).toBe(subject);
    expect(pick([face(330, 250, 90), subject], true)).toBe(subject);
  });

  it('accepts a dominant central subject with a smaller face at the edge, outside bursts only', () => {
    const bystander = face(590, 120, 150); // 0.75 of the subject, centred outside the middle half
    expect(pick([bystander, subject])).toBe(subject);
    expect(refusal([bystander, subject], true)).toBe('multiple_faces');
  });

  it('refuses two comparable faces, a second face near the middle, or an off-centre subject', () => {
    expect(refusal([subject, face(590, 120, 165)])).toBe('multiple_faces'); // 0.825: comparable
    expect(refusal([subject, face(420, 240, 120)])).toBe('multiple_faces'); // small but central
    expect(refusal([face(120, 240, 200), face(560, 240, 120)])).toBe('multiple_faces'); // subject at the edge
  });

  it('accepts several bystanders if each is dominated and off-centre', () => {
    expect(refusal([subject, face(590, 120, 150), face(60, 400, 150)])).toBe(NO_ERROR);
  });

  it('refuses an empty list as no_face', () => {
    expect(refusal([])).toBe('no_face');
  });
});
