/**
 * A small memory of release views this server has seen (from checks, state events and manifest
 * look-ups), so GET /api/v1/version can name the running release's build date and commit without
 * a network round trip. Bounded: the oldest entries are dropped first.
 */
import type { ReleaseView } from '../../src-shared/api';

export interface ReleaseMemo {
  remember(target: string, release: ReleaseView | null | undefined): void;
  get(target: string, version: string): ReleaseView | undefined;
}

/** Creates a memo holding at most `max` releases. */
export function createReleaseMemo(max = 256): ReleaseMemo {
  const map = new Map<string, ReleaseView>();
  const key = (target: string, version: string): string => `${target}\u0000${version}`;
  return {
    remember(target, release) {
      if (!release) return;
      const k = key(target, release.version);
      map.delete(k);
      map.set(k, release);
      while (map.size > max) {
        const oldest = map.keys().next().value;
        if (oldest === undefined) break;
        map.delete(oldest);
      }
    },
    get(target, version) {
      return map.get(key(target, version));
    },
  };
}
