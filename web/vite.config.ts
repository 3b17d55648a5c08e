/**
 * The dashboard build: web/ → dist/web/, served by `gantry up` at `/`. Hashed asset names let
 * the server cache them forever; charts load as their own chunk on the pages that draw them.
 */
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 800,
  },
  server: { proxy: { '/api': 'http://127.0.0.1:7700', '/auth': 'http://127.0.0.1:7700' } },
});
