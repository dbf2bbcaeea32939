// Lint rules, including the architecture's dependency rules (ARCHITECTURE.md, "Layout"), as one
// table: which other modules of src/ each module may import, through their public entry only.
// Capabilities never import Koa, oidc-provider or views; nothing outside the custodian reaches
// its internals (where the HE secret keys live); dependencies point inward.
// test/unit/platform/architecture.test.ts lints a forbidden import to prove the rules bite.
import tseslint from 'typescript-eslint';

const WEB_FRAMEWORK = ['koa', 'koa/*', '@koa/*', 'oidc-provider', 'oidc-provider/*', 'nunjucks'];

/**
 * module -> the modules it may import (each through its index.ts, or an entry named here), and
 * whether it may use the web framework. Top-level files (idp.ts, app.ts, main.ts) are modules too.
 */
export const MODULES = {
  shared: { uses: [] },
  config: { uses: ['shared'] },
  db: { uses: ['shared'] },
  sealing: { uses: ['shared'] },
  metrics: { uses: [] },
  face: { uses: ['shared'] },
  he: { uses: ['shared'] },
  custodian: { uses: ['shared', 'he'] }, // its client side: index.ts, client.ts, protocol.ts, spawn.ts
  audit: { uses: ['shared', 'db', 'metrics'] },
  keys: { uses: ['shared', 'db', 'sealing'] },
  throttle: { uses: ['shared', 'db'] },
  mfa: { uses: ['shared', 'db', 'sealing'] },
  biometric: { uses: ['shared', 'metrics'] },
  policy: { uses: [] }, //                        the sign-in policy table and acr values: pure
  passkeys: { uses: ['shared', 'db'] },
  liveness: { uses: ['shared', 'db'] }, //         presentation-attack detection; the face engine is a port
  accounts: { uses: ['shared', 'db', 'audit', 'biometric'] },
  http: { uses: ['shared', 'db'], web: true },
  oidc: { uses: ['shared', 'db', 'sealing', 'http', 'policy'], web: true },
  interaction: { uses: ['shared', 'db', 'accounts', 'audit', 'biometric', 'mfa', 'passkeys', 'liveness', 'throttle', 'policy', 'oidc', 'http'], web: true },
  account: { uses: ['shared', 'db', 'accounts', 'audit', 'mfa', 'passkeys', 'liveness', 'interaction', 'policy', 'oidc', 'http'], web: true },
  admin: { uses: ['shared', 'db', 'accounts', 'audit', 'keys', 'oidc', 'throttle', 'http'], web: true }, // the operators' console
  operator: { uses: ['shared', 'db', 'idp'] }, //  the operator commands, and the socket a running IdP serves them on
  cli: { uses: ['shared', 'config', 'db', 'idp', 'operator'] },
  'app.ts': { uses: ['shared', 'http', 'metrics'], web: true },
  'main.ts': { uses: ['shared', 'config', 'http', 'idp', 'operator'] },
  'idp.ts': { uses: [], all: true, web: true }, // the composition root wires everything
};
const FOLDERS = Object.keys(MODULES).filter((name) => !name.endsWith('.ts'));
const TOP_FILES = Object.keys(MODULES).filter((name) => name.endsWith('.ts')).map((name) => name.replace(/\.ts$/, ''));

const restrict = (group, message) => ({ group, message });

function zone(module) {
  const spec = MODULES[module];
  const patterns = [];
  if (!spec.all) {
    const forbidden = FOLDERS.filter((other) => other !== module && !spec.uses.includes(other));
    if (forbidden.length) patterns.push(restrict(forbidden.map((other) => `**/${other}/**`), `${module} may import only: ${spec.uses.join(', ') || 'nothing else in src'} (eslint.config.js, MODULES).`));
    const forbiddenTop = TOP_FILES.filter((file) => !spec.uses.includes(file));
    if (forbiddenTop.length) patterns.push(restrict(forbiddenTop.map((file) => `**/${file}.ts`), `${module} may not import the composition root or entry points.`));
  }
  // Another module is reached through its index.ts only.
  const deep = FOLDERS.filter((other) => other !== module).flatMap((other) => [`**/${other}/*`, `**/${other}/**/*`, `!**/${other}/index.ts`]);
  patterns.push(restrict(deep, 'Import another module through its index.ts (its public entry).'));
  patterns.push(restrict(['**/custodian/internal/**', '**/custodian/server.ts'], 'Talk to the custodian through src/custodian/index.ts only.'));
  // The custodian's client side (what the IdP imports) never reaches its secret-key side.
  if (module === 'custodian') patterns.push({ regex: '^\\./(internal/|server\\.ts$)', message: 'The custodian client must not reach the secret-key side.' });
  if (!spec.web) patterns.push(restrict(WEB_FRAMEWORK, 'Capabilities never import the web framework or the OIDC provider.'));
  const paths = spec.web ? [] : WEB_FRAMEWORK.filter((name) => !name.includes('*')).map((name) => ({ name, message: 'Capabilities never import the web framework or the OIDC provider.' }));
  return { 'no-restricted-imports': ['error', { paths, patterns }] };
}

// Property names that only the key owner may touch (SEAL's SecretKey and Decryptor).
const SECRET_KEY_SYNTAX = {
  selector: 'Identifier[name=/^(SecretKey|Decryptor|secretKey|decryptor)$/]',
  message: 'Only src/custodian/internal may touch the HE secret key or decrypt.',
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'custodian-data/**', 'test-output/**', 'bench/out/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  ...FOLDERS.map((module) => ({ files: [`src/${module}/**/*.ts`], rules: zone(module) })),
  ...TOP_FILES.map((file) => ({ files: [`src/${file}.ts`], rules: zone(`${file}.ts`) })),
  {
    // The key owner: its internals and process entry may use the key side of src/he.
    files: ['src/custodian/internal/**', 'src/custodian/server.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          restrict(FOLDERS.filter((other) => !['custodian', 'shared', 'he'].includes(other)).map((other) => `**/${other}/**`), 'The custodian depends on src/he and src/shared only.'),
          restrict(['**/he/*', '!**/he/index.ts', '!**/he/keyside.ts'], 'The custodian reaches src/he through index.ts or keyside.ts.'),
          restrict(['**/shared/*', '!**/shared/index.ts'], 'Import src/shared through its index.ts.'),
          restrict(WEB_FRAMEWORK, 'The custodian never imports the web framework.'),
        ],
      }],
    },
  },
  {
    // Outside the custodian nobody touches a secret key or decrypts.
    files: ['src/**/*.ts'],
    ignores: ['src/custodian/internal/**', 'src/custodian/server.ts'],
    rules: { 'no-restricted-syntax': ['error', SECRET_KEY_SYNTAX] },
  },
  {
    // Research tooling and benchmarks: modules' public entries, face/research.ts, he/keyside.ts.
    files: ['bench/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          restrict([...FOLDERS.flatMap((other) => [`**/src/${other}/*`, `**/src/${other}/**/*`, `!**/src/${other}/index.ts`]), '!**/src/face/research.ts', '!**/src/he/keyside.ts'], 'Benchmarks use the modules\' public entries (and src/face/research.ts).'),
          restrict(['**/test/**'], 'Benchmarks do not import tests: shared drivers live in support/.'),
        ],
      }],
    },
  },
);
