/**
 * Limits applied to every frame, before and after decoding. Frames come from the browser's
 * canvas (640x480 JPEG, ~30-80 KB); the caps leave room for uploaded photos and refuse anything
 * that could exhaust memory or CPU before a byte of pixel data is allocated.
 */
export interface FrameLimits {
  /** Largest accepted encoded size in bytes. */
  readonly maxBytes: number;
  /** Largest accepted width or height, read from the file header before decoding. */
  readonly maxSide: number;
  /** Largest accepted width x height, read from the header (decompression bombs). */
  readonly maxPixels: number;
  /** Smallest accepted width or height: nothing smaller can hold a usable face. */
  readonly minSide: number;
  /** Frames are decoded and then shrunk so that neither side exceeds this (never enlarged). */
  readonly workingSide: number;
}

export interface DetectionLimits {
  /** Detector confidence from which a detection counts as a face. */
  readonly minScore: number;
  /**
   * Smallest usable face: its width in pixels (jaw to jaw, estimated from the 68 landmarks: the
   * scale of dlib's mean face fitted to them) in the working image. Detector boxes are not used
   * for this because SSD and Tiny boxes of one face differ by 20-30%. A 640x480 webcam frame at
   * arm's length shows a face ~120-200 px wide (jaw to jaw); LFW's 250x250 photos 71-87 px (p5-p95,
   * median 78). The descriptor network sees the face at 100 px (150 px chip): smaller faces are
   * upsampled. 60 px refuses 0.5% of LFW; genuine LFW pairs with a face under 70 px are falsely rejected
   * 3-5x more often (mostly turned heads, whose jaw looks narrower): bench/accuracy.ts.
   */
  readonly minFaceSize: number;
  /**
   * A second face counts (=> multiple_faces) only if it is at least this fraction of the largest
   * face's width. Smaller ones are people far behind the user: they cannot be the subject, and
   * refusing on them would fail logins in any office or street. The largest face is the subject.
   */
  readonly secondFaceRatio: number;
  /**
   * Outside liveness bursts, a comparable face is allowed beside a dominant, central subject if it
   * is narrower than this fraction of the subject's width and centred outside the frame's middle
   * `centralZone` (subject.ts).
   */
  readonly dominantFaceRatio: number;
  /** The frame's middle, as a fraction of each side, where a dominant subject's centre must be. */
  readonly centralZone: number;
  /** Quality gate (quality.ts): a face turned further than this (|yaw| in jaw widths) is refused, face_turned. */
  readonly maxYaw: number;
  /** Quality gate (quality.ts): a face whose chip is less sharp than this is refused, face_blurred. */
  readonly minSharpness: number;
}

export interface ConsensusLimits {
  /**
   * A frame whose descriptor lies farther than this from the element-wise median of the other
   * frames is an outlier (consensus.ts). Looser than the match threshold on purpose: it must catch
   * another person (on LFW ~97% of impostor pairs are farther apart than 0.45) without rejecting
   * the natural variation between captures (0.6% of genuine LFW pairs, taken years apart, are).
   */
  readonly agreeDistance: number;
  /** Consistent frames required to build an enrollment template. */
  readonly minEnrollFrames: number;
  /** Consistent frames required for a probe. */
  readonly minProbeFrames: number;
  /** Most frames accepted in one enroll/probe call. */
  readonly maxFrames: number;
}

export const FRAME_LIMITS: FrameLimits = Object.freeze({
  maxBytes: 4 * 1024 * 1024,
  maxSide: 4096,
  maxPixels: 4096 * 4096,
  minSide: 64,
  workingSide: 1280,
});
