/// <reference types="vitest/config" />
import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'

// The build is committed (frontend/dist) and embedded in the Go binary, so it
// must be reproducible: content-hashed names, no timestamps, no source maps
// with absolute paths.
export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 2000,
    reportCompressedSize: true,
  },
  worker: { format: 'es' },
  server: {
    proxy: { '/graphql': { target: 'http://127.0.0.1:8080', ws: true } },
  },
  test: {
    environment: 'jsdom',
    include: ['test/**/*.test.{ts,tsx}'],
    setupFiles: ['test/setup.ts'],
    // A budget, not an assertion: the shared CI and development machines are often loaded.
    testTimeout: 20_000,
  },
})
