import { defineConfig } from 'vite';
import { isAbsolute, resolve } from 'node:path';

// The built files are compiled into the dtmd binary and served at <prefix>/admin/.
// LYNX_CONSOLE_OUT (an absolute directory) overrides where they are written.
const out = process.env.LYNX_CONSOLE_OUT;

export default defineConfig({
  base: './',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: out ? (isAbsolute(out) ? out : resolve(process.cwd(), out)) : 'dist',
    emptyOutDir: true,
    sourcemap: false,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'es2020',
    reportCompressedSize: false,
  },
});
