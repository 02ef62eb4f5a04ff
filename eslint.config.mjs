// Lint rules, including the layer rules of docs/architecture.md: each folder may only import
// downward. A wrong import arrow fails `npm run lint`, and so `npm test`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const nodeBuiltins = ['node:*', 'fs', 'fs/*', 'path', 'os', 'crypto', 'child_process', 'http', 'https', 'net', 'url', 'stream', 'stream/*', 'events', 'util', 'zlib', 'worker_threads'];

const pattern = (group, message) => ({ group, message });

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'out/**', 'release/**', '.demo/**', 'test-results/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-require-imports': 'off',
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    files: ['src-shared/**/*.{ts,tsx}'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          pattern(nodeBuiltins, 'src-shared is pure: no Node built-ins.'),
          pattern(['electron', 'electron/*'], 'src-shared never imports electron.'),
          pattern(['**/src-main/**', '**/src-renderer/**', '../src-main/**', '../src-renderer/**'], 'src-shared imports only itself.'),
        ],
      }],
    },
  },
  {
    files: ['src-main/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          pattern(['electron', 'electron/*', 'electron-log/main', 'electron-log/renderer'], 'The engine is plain Node: never electron.'),
          pattern(['**/electron/**', '**/server/**', '**/cli/**', '**/src-renderer/**'], 'The engine imports only src-shared and itself.'),
        ],
      }],
      // Time comes from the injected Clock (clock.ts): tests pin it, and durations stay monotonic.
      // Building a Date from a given value (`new Date(ms)`, `new Date(text)`) is not a clock read.
      'no-restricted-syntax': ['error',
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'Read wall time from the injected Clock (clock.ts), not new Date().' },
        { selector: "MemberExpression[object.name='Date'][property.name='now']", message: 'Read time from the injected Clock (clock.ts), not Date.now.' },
        { selector: "MemberExpression[object.name='performance'][property.name='now']", message: 'Measure durations with the injected Clock\'s monoMs (clock.ts).' },
      ],
    },
  },
  {
    files: ['src-main/engine/clock.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['src-main/server/**/*.ts', 'src-main/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          pattern(['electron', 'electron/*'], 'The server and CLI run without Electron.'),
          pattern(['**/src-renderer/**', '**/electron/**'], 'The server serves the built renderer as files; it never imports its source.'),
        ],
      }],
    },
  },
  {
    files: ['src-main/electron/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          pattern(['**/server/!(index)', '**/server/*/**'], 'Electron starts the server through src-main/server/index.ts only.'),
          pattern(['**/src-renderer/**'], 'Main never imports renderer source.'),
        ],
      }],
      'no-restricted-syntax': ['error', {
        selector: "MemberExpression[object.name=/^ipc(Main|Renderer)$/]",
        message: 'Use the typed IPC map (src-main/electron/ipc-main.ts, preload.ts), not raw ipcMain/ipcRenderer.',
      }],
    },
  },
  {
    files: ['src-main/electron/ipc-main.ts', 'src-main/electron/preload.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['src-renderer/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          pattern(nodeBuiltins, 'The renderer has no Node access.'),
          pattern(['electron', 'electron/*'], 'The renderer reaches main only through window.upkeep (the preload bridge).'),
          pattern(['**/src-main/**', '../src-main/**', '../../src-main/**'], 'The renderer talks only to the UpdaterApi in src-shared.'),
        ],
      }],
      'no-restricted-globals': ['error', { name: 'require', message: 'No require in the renderer.' }, { name: 'process', message: 'No process in the renderer.' }],
    },
  },
  {
    files: ['test/**/*.{ts,tsx}', 'bench/**/*.{js,ts}', '*.config.{ts,mjs,js}', 'scripts/**/*.{js,mjs,ts}'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
