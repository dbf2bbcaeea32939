import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { MODULES } from '../../eslint.config.js';

/**
 * The dependency rules are checked, not hoped for: the lint configuration's module table covers
 * every module of src/, and imports that break the architecture fail the lint (so they fail CI).
 */
const eslint = new ESLint({ cwd: process.cwd() });

async function problems(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((message) => message.severity === 2).map((message) => message.ruleId ?? message.message);
}

describe('architecture rules', () => {
  it('cover every module of src/ (folders and top-level files)', () => {
    const entries = readdirSync('src').filter((name) => statSync(join('src', name)).isDirectory() || name.endsWith('.ts'));
    expect(entries.sort()).toEqual(Object.keys(MODULES).sort());
  });

  it.each([
    ['a capability importing a web layer', 'src/face/probe.ts', "import { createViews } from '../http/index.ts';\nexport const x = createViews;"],
    ['a capability importing the web framework', 'src/biometric/probe.ts', "import Koa from 'koa';\nexport const x = Koa;"],
    ['a capability importing the OIDC provider', 'src/accounts/probe.ts', "import { Provider } from 'oidc-provider';\nexport const x = Provider;"],
    ['a module outside its table', 'src/throttle/probe.ts', "import { createAccountService } from '../accounts/index.ts';\nexport const x = createAccountService;"],
    ['a deep import past another module\'s index.ts', 'src/interaction/probe.ts', "import { createAdapterClass } from '../oidc/adapter.ts';\nexport const x = createAdapterClass;"],
    ['the web tier reaching the custodian\'s internals', 'src/accounts/probe.ts', "import { createJudge } from '../custodian/internal/judge.ts';\nexport const x = createJudge;"],
    ['the custodian client reaching its own secret-key side', 'src/custodian/probe.ts', "import { createJudge } from './internal/judge.ts';\nexport const x = createJudge;"],
    ['the IdP side reaching the HE key side', 'src/biometric/probe.ts', "import { createHeContext } from '../he/keyside.ts';\nexport const x = createHeContext;"],
    ['a capability importing the composition root', 'src/mfa/probe.ts', "import { createIdp } from '../idp.ts';\nexport const x = createIdp;"],
    ['the pure policy table importing anything', 'src/policy/probe.ts', "import { AppError } from '../shared/index.ts';\nexport const x = AppError;"],
    ['touching a secret key outside the custodian', 'src/he/probe.ts', 'export function f(secretKey: unknown) { return secretKey; }'],
    ['a benchmark importing a test file', 'bench/probe.ts', "import { x } from '../test/unit/probe.ts';\nexport const y = x;"],
    ['a benchmark reaching a module\'s internals', 'bench/probe.ts', "import { FrameAnalysis } from '../src/face/pipeline.ts';\nexport const y = FrameAnalysis;"],
  ])('refuse %s', async (_what, file, code) => {
    const found = await problems(file, code);
    expect(found.some((rule) => rule === 'no-restricted-imports' || rule === 'no-restricted-syntax')).toBe(true);
  });

  it.each([
    ['an allowed import through an index', 'src/interaction/probe.ts', "import { acceptableAcrs } from '../policy/index.ts';\nexport const x = acceptableAcrs;"],
    ['the custodian\'s internals on the HE key side', 'src/custodian/internal/probe.ts', "import { createHeContext } from '../../he/keyside.ts';\nexport const x = createHeContext;"],
    ['research tooling on the face module\'s research entry', 'bench/probe.ts', "import { createFaceAnalyser } from '../src/face/research.ts';\nexport const y = createFaceAnalyser;"],
    ['benchmarks on the shared drivers', 'bench/probe.ts', "import { realParts } from '../support/parts.ts';\nexport const y = realParts;"],
  ])('allow %s', async (_what, file, code) => {
    expect(await problems(file, code)).toEqual([]);
  });
});
