/**
 * Shared setup of the jsdom renderer tests: React's act() environment, cleanup after each test,
 * and a helper that mounts the whole app at a hash route against a FakeApi.
 */
import { afterEach } from 'vitest';
import { cleanup, render, screen } from '@testing-library/react';
import { App } from '../../src-renderer/App';
import type { RendererApi } from '../../src-renderer/api/types';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

afterEach(() => {
  cleanup();
  window.location.hash = '';
});

/** Mounts <App> at `hash` (e.g. '#/targets/demo/points'). */
export function renderApp(api: RendererApi, hash = '#/') {
  window.location.hash = hash;
  return render(<App api={api} />);
}

export { screen };
