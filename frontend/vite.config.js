import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'
import tailwindcss from '@tailwindcss/vite'

const backend = process.env.RUBBERDUCK_BACKEND || 'http://127.0.0.1:8000'

export default defineConfig({
  base: '/static/',
  plugins: [react(), tailwindcss()],
  build: {
    // Inside the Python package, so the wheel ships the built UI (package data) and Django finds it installed.
    outDir: '../rubberduck_site/ui',
    emptyOutDir: true,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: {
      '/api': backend,
      '/_allauth': backend,
      '/accounts': backend,
      '/healthz': backend,
      '/ws': { target: backend, ws: true },
    },
  },
})
