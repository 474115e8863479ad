// ESLint for the whole repository, run by `npm run lint` (and so by `npm test` and CI).
// src/ gets typescript-eslint's type-aware rules, which need the TypeScript program of
// tsconfig.json; test/ and the plain-JavaScript scripts get the rules that need no types.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// A leading `_` names what is there to be left out: a parameter an interface requires, or a
// key taken out of an object by destructuring.
const unusedVars = ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }];

export default defineConfig(
  {
    ignores: [
      'dist/',
      'coverage/',
      '.factory/',
      '.bench-tmp/',
      'src/config/generated/',
      'test/fixtures/',
      // The examples are projects of their own, linted (or not) by their own rules.
      'examples/',
    ],
  },
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  {
    files: ['**/*.{js,mjs}'],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
    rules: { 'no-unused-vars': unusedVars },
  },
  {
    files: ['src/**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': unusedVars,
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unnecessary-condition': 'error',
      // Left out of recommended-type-checked: implementations of a Promise-returning interface
      // (tools, providers, renderers' close) stay `async` without awaiting anything, so that
      // a throw reaches their caller as a rejection, as it would from the other implementations.
      '@typescript-eslint/require-await': 'off',
      // A `default:` does not make a switch over a union exhaustive: every member needs its
      // case, so a new member fails the lint until each switch handles it.
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: false, requireDefaultForNonUnion: false },
      ],
    },
  },
  {
    // Without type information: the type-aware rules need a TypeScript program, and
    // tsconfig.json holds src/ only.
    files: ['test/**/*.ts', 'vitest.config.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    languageOptions: { globals: globals.node },
    rules: { '@typescript-eslint/no-unused-vars': unusedVars },
  },
);
