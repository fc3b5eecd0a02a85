// The web console's build: Preact + TypeScript into dist/console/, served by Anvil at /-/console/
// (src/http/console.ts). Hashed file names under assets/ are cached for good; index.html never.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: '/-/console/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  // `npx vite --config console/vite.config.ts`: live reload at http://localhost:5173/-/console/ against an
  // Anvil on :9000. The Host header is kept, so S3 signatures made for localhost:5173 still verify.
  server: { proxy: { '^/(?!-/console/)': { target: 'http://127.0.0.1:9000', changeOrigin: false } } },
  build: {
    outDir: path.resolve(here, '../dist/console'),
    emptyOutDir: true,
    target: 'es2022',
    // The strict CSP allows no inline scripts; Vite's module preload polyfill would be one.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: false,
    sourcemap: false,
  },
});
