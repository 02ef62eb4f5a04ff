import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import react from '@vitejs/plugin-react';
import { devCspPlugin, originalFsPlugin } from './scripts/vite-plugins';

// One build for the tray app: Electron main, the preload bridge and the React renderer.
// The renderer build (out/renderer) is also what the daemon serves as the web dashboard.
//
// Main bundles its npm dependencies (externalizeDeps: false) for two reasons:
// - ESM-only packages (jose, content-disposition, cookie, fast-xml-parser's helpers) cannot be
//   require()d from app.asar by the packaged main process; bundled, they are plain code.
// - every `fs` in the bundle is Electron's `original-fs`: Electron's own `fs` treats `*.asar`
//   files as directories, and the engine must see a managed install's `app.asar` as the file it is.
export default defineConfig({
  main: {
    plugins: [originalFsPlugin()],
    build: {
      outDir: 'out/main',
      externalizeDeps: false,
      // One file: the engine loads feed adapters and drivers with import() on first use (a smaller
      // start for the CLI); in the main bundle they stay inline rather than becoming chunks.
      rollupOptions: { input: { index: resolve(__dirname, 'src-main/electron/main.ts') }, external: ['electron', 'original-fs'], output: { inlineDynamicImports: true } },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      rollupOptions: { input: { index: resolve(__dirname, 'src-main/electron/preload.ts') } },
    },
  },
  renderer: {
    root: resolve(__dirname, 'src-renderer'),
    base: './',
    plugins: [react({}), devCspPlugin()],
    build: {
      minify: true,
      outDir: resolve(__dirname, 'out/renderer'),
      emptyOutDir: true,
      rollupOptions: { input: { index: resolve(__dirname, 'src-renderer/index.html') } },
    },
  },
});
