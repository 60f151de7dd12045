// House style, enforced: typescript-eslint, lines ≤ 150 characters, and DESIGN's "two worlds, one rule" as
// import boundaries. Synth-time code (lib/) never imports the AWS SDK or run-time code; run-time code
// (lambda/, worker/, runtime/) never imports aws-cdk-lib or constructs, and reaches into lib/ only through
// its pure modules (contracts, the scaling policy, the cost model). test/architecture/two-worlds.test.ts
// checks the same rule without eslint.
import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const RUNTIME = ['lambda', 'worker', 'runtime'];

export default tseslint.config(
  { ignores: ['dist/**', 'cdk.out/**', 'node_modules/**', 'coverage/**', 'bench/out/**', '**/*.d.ts', '**/*.js', '**/*.cjs', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json'] })] },
    rules: {
      // prettier wraps code at 150; string, template and regex literals cannot be wrapped without changing them.
      'max-len': ['error', { code: 150, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'import-x/no-duplicates': 'error',
      'import-x/no-cycle': 'off',
    },
  },
  {
    // Synth-time world.
    files: ['lib/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ group: ['@aws-sdk/*'], message: 'lib/ is synth-time code: it never imports the AWS SDK (two worlds, one rule).' }],
        },
      ],
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [{ target: './lib', from: RUNTIME.map((d) => `./${d}`), message: 'lib/ never imports run-time code (two worlds, one rule).' }],
        },
      ],
    },
  },
  {
    // The package's entry point re-exports public constructs by name; helpers stay unexported.
    files: ['lib/**/*.ts'],
    ignores: ['lib/contracts/index.ts', 'lib/cost/index.ts'],
    rules: {
      'no-restricted-syntax': ['error', { selector: 'ExportAllDeclaration', message: 'Export public names one by one: export * leaks helpers.' }],
    },
  },
  {
    files: ['lib/index.ts'],
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            {
              target: './lib/index.ts',
              from: ['./lib/common/**', './lib/**/private/**'],
              message: 'Helpers under common/ and private/ are not exported.',
            },
          ],
        },
      ],
    },
  },
  {
    // Run-time world.
    files: RUNTIME.map((d) => `${d}/**/*.ts`),
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['aws-cdk-lib', 'aws-cdk-lib/*', 'constructs'],
              message: 'Run-time code never imports aws-cdk-lib or constructs (two worlds, one rule).',
            },
          ],
        },
      ],
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            {
              target: RUNTIME.map((d) => `./${d}`),
              from: './lib',
              except: ['./contracts', './compute/scaling-policy.ts', './compute/learned-boot.ts', './cost'],
              message:
                'Run-time code reaches into lib/ only through its pure modules: contracts, compute/scaling-policy.ts, compute/learned-boot.ts, cost.',
            },
          ],
        },
      ],
    },
  },
  {
    // Tests read synthesized templates and SDK responses as untyped JSON.
    files: ['test/**/*.ts', 'test-consumer/**/*.ts', 'test-chaos/**/*.ts', 'test-deploy/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
