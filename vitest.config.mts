import { defineConfig } from 'vitest/config';

// Three projects, all run by `npm test` (scripts/test.sh):
//   unit    — pure engine/extension logic in Node
//   browser — Playwright + Debian chromium (WebGPU on SwiftShader)
//   vscode  — the built extension inside code-server, driven by Playwright
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['engine/**/*.test.ts', 'extension/**/*.test.ts', 'webview/**/*.test.ts', 'tests/unit/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'browser',
          include: ['tests/browser/**/*.test.ts'],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'vscode',
          include: ['tests/vscode/**/*.test.ts'],
          environment: 'node',
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
