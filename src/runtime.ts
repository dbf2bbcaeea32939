import type { Config } from './config/index.ts';
import { createCustodianClient } from './custodian/index.ts';
import { createFaceEngine, DEFAULT_MATCH_THRESHOLD } from './face/index.ts';
import { createHeEngine } from './he/index.ts';
import type { BiometricParts } from './services.ts';
import type { Logger } from './shared/index.ts';

/**
 * The real biometric parts for a process (IdP or CLI): the face engine's worker pool, the link to
 * the key custodian, and the HE engine factory. Kept apart from services.ts so tests can pass
 * their own (a custodian they start and kill, an engine shared across test files).
 */
export async function createRuntime(config: Config, logger: Logger, options: { face?: boolean } = {}): Promise<{ deps: BiometricParts; close(): Promise<void> }> {
  const noFace = () => {
    throw new Error('this process runs without the face engine');
  };
  const face = options.face === false
    ? { modelVersion: 'none', enroll: noFace, probe: noFace, close: async () => undefined }
    : await createFaceEngine({ workers: config.face.workers, logger });
  const he = await createHeEngine();
  const custodian = createCustodianClient({
    socketPath: config.custodian.socketPath,
    host: config.custodian.host,
    port: config.custodian.port,
    sharedSecret: config.custodian.sharedSecret,
    timeoutMs: config.custodian.timeoutMs,
  });
  return {
    deps: {
      face,
      custodian,
      he,
      matchThreshold: config.face.matchThreshold ?? DEFAULT_MATCH_THRESHOLD,
    },
    async close() {
      custodian.close();
      he.close();
      await face.close();
    },
  };
}
