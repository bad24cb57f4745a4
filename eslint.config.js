// ESLint for the TypeScript and the few JS scripts (npm run lint): typescript-eslint's recommended
// rules, without the type-checked set so a lint of the whole tree stays fast. Layout is Prettier's job.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  // Generated, vendored or downloaded.
  { ignores: ['dist/', 'build/', 'build-*/', 'bench/results/', 'data/', 'third_party/', 'test-artifacts/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  { languageOptions: { globals: globals.node } },
  {
    // Tests match terminal output as printed: ANSI escapes and runs of spaces are the point there.
    files: ['test/**/*.ts'],
    rules: { 'no-control-regex': 'off', 'no-regex-spaces': 'off' },
  },
);
