import { describe, it, expect } from 'vitest';
import { displayPath } from '../../../src-main/engine/apply/transaction';

describe('displayPath', () => {
  const j = { install_dir: '/srv/app' };
  it('shows staged names as their destination, relative to the install dir', () => {
    expect(displayPath(j, '/srv/app/bin/.demo.upkeep-op_20261124T061711_a14856')).toBe('bin/demo');
    expect(displayPath(j, '/srv/app/.VERSION.upkeep-op_1')).toBe('VERSION');
    expect(displayPath(j, '/srv/app/versions/.1.2.0.upkeep-op_1/lib/core.so')).toBe('versions/1.2.0/lib/core.so');
    expect(displayPath(j, '/srv/app/README.md')).toBe('README.md');
  });
});
