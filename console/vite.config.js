import { defineConfig } from 'vite';

// Served by `lambkin serve` at /console/ (src/console/console_files.h), from the directory
// LAMBKIN_CONSOLE_OUT names (`make build` puts it in build/console), or dist/.
export default defineConfig({
  base: '/console/',
  build: {
    outDir: process.env.LAMBKIN_CONSOLE_OUT || 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // No inline script: the page's Content-Security-Policy allows scripts from this origin only.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 1024,
  },
});
