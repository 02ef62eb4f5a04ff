/**
 * The line `upkeep apply` prints: a first install reads "installed", counts agree in number.
 */
import { describe, it, expect } from 'vitest';
import { formatApply } from '../../src-main/cli/format';
import type { ApplyResult } from '../../src-shared/api';

const base: ApplyResult = {
  success: true,
  target: 'myapp',
  version: '1.1.0',
  from_version: '1.0.0',
  verify_only: false,
  files_updated: ['hello.txt'],
  files_removed: [],
  rollback_id: 'rb_1',
  operation_id: 'op_1',
};

describe('formatApply', () => {
  it('says "installed" for a first install, never "updated nothing"', () => {
    expect(formatApply({ ...base, from_version: null, version: '1.0.0' })).toBe('myapp: installed 1.0.0 (1 file); rollback point rb_1');
  });

  it('names both versions of an update and counts files in the right number', () => {
    expect(formatApply(base)).toBe('myapp: updated 1.0.0 -> 1.1.0 (1 file updated, 0 removed); rollback point rb_1');
    expect(formatApply({ ...base, files_updated: ['a', 'b'], files_removed: ['c'] })).toBe('myapp: updated 1.0.0 -> 1.1.0 (2 files updated, 1 removed); rollback point rb_1');
  });

  it('a verify-only run says what would change and that nothing was installed', () => {
    expect(formatApply({ ...base, verify_only: true, rollback_id: null })).toBe('myapp: 1.1.0 verified (1 file would change); nothing installed');
    expect(formatApply({ ...base, verify_only: true, files_updated: [], rollback_id: null })).toBe('myapp: 1.1.0 verified (0 files would change); nothing installed');
  });
});
