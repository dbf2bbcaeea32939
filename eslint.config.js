// Lint rules, including the architecture's dependency rules (ARCHITECTURE.md, "Layout"):
// capabilities never import Koa, oidc-provider or views; nothing outside the custodian reaches
// its internals (where the HE secret key lives); dependencies point inward.
import tseslint from 'typescript-eslint';

const WEB_FRAMEWORK = ['koa', 'koa/*', '@koa/*', 'oidc-provider', 'oidc-provider/*', 'nunjucks'];
const OUTER_LAYERS = ['**/http/**', '**/interaction/**', '**/oidc/**', '**/account/**', '**/app.ts', '**/main.ts', '**/cli/**'];
const CUSTODIAN_INTERNALS = ['**/custodian/internal/**', '**/custodian/server.ts'];

const restrict = (groups, message) => ({ group: groups, message });

// Property names that only the key owner may touch (SEAL's SecretKey and Decryptor).
const SECRET_KEY_SYNTAX = {
  selector: 'Identifier[name=/^(SecretKey|Decryptor|secretKey|decryptor)$/]',
  message: 'Only src/custodian/internal may touch the HE secret key or decrypt.',
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'test-output/**', 'bench/out/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/custodian/internal/**', 'src/custodian/server.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [restrict(CUSTODIAN_INTERNALS, 'Talk to the custodian through src/custodian/index.ts only.')] }],
      'no-restricted-syntax': ['error', SECRET_KEY_SYNTAX],
    },
  },
  {
    files: ['src/face/**', 'src/he/**', 'src/custodian/**', 'src/biometric/**', 'src/mfa/**', 'src/db/**', 'src/shared/**', 'src/config/**', 'src/audit/**'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: WEB_FRAMEWORK.filter((name) => !name.includes('*')).map((name) => ({ name, message: 'Capabilities never import the web framework or the OIDC provider.' })),
        patterns: [
          restrict(WEB_FRAMEWORK.filter((name) => name.includes('*')), 'Capabilities never import the web framework or the OIDC provider.'),
          restrict(OUTER_LAYERS, 'Dependencies point inward: capabilities never import the web layers.'),
        ],
      }],
    },
  },
  {
    // The custodian's public client may not reach its own internals either (the IdP imports it).
    files: ['src/custodian/index.ts', 'src/custodian/client.ts', 'src/custodian/protocol.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          restrict(['./internal/**', './server.ts', ...CUSTODIAN_INTERNALS], 'The custodian client must not reach the secret-key side.'),
          restrict([...WEB_FRAMEWORK, ...OUTER_LAYERS], 'Capabilities never import the web framework or the web layers.'),
        ],
      }],
      'no-restricted-syntax': ['error', SECRET_KEY_SYNTAX],
    },
  },
  {
    files: ['src/shared/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [restrict(['../*', '!../shared/**'], 'src/shared depends on nothing else in src.')] }],
    },
  },
);
