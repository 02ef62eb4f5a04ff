/**
 * The lines `upkeep apply` and `upkeep download` print: a first install reads "installed", counts agree in number.
 */
import { describe, it, expect } from 'vitest';
import { formatApply, formatDownload, formatPoints } from '../../src-main/cli/format';
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

describe('formatDownload', () => {
  it('counts files in the right number', () => {
    const r = { success: true as const, target: 'myapp', version: '1.1.0', download_path: '/s/downloads/releases/myapp/1.1.0', files: 1, bytes: 12, reused_bytes: 12 };
    expect(formatDownload(r)).toBe('myapp: downloaded and verified 1.1.0 (1 file, 12 B, 12 B reused) -> /s/downloads/releases/myapp/1.1.0');
    expect(formatDownload({ ...r, files: 3, bytes: 2048, reused_bytes: 0 })).toBe('myapp: downloaded and verified 1.1.0 (3 files, 2 KiB, 0 B reused) -> /s/downloads/releases/myapp/1.1.0');
  });
});

describe('formatPoints', () => {
  it('names the first install\'s point "none -> V", as the rollback prompt, its help and the dashboard do', () => {
    const first = { rollback_id: 'rb_1', target: 'myapp', from_version: null, to_version: '1.0.0', created_at: '2026-11-30T09:46:55.180Z', size_bytes: 0, files: 0 };
    const next = { ...first, rollback_id: 'rb_2', from_version: '1.0.0', to_version: '1.1.0', size_bytes: 12, files: 1 };
    expect(formatPoints('myapp', [next, first]).split('\n')).toEqual(['rb_2  1.0.0 -> 1.1.0  2026-11-30T09:46:55.180Z  12 B', 'rb_1  none -> 1.0.0  2026-11-30T09:46:55.180Z  0 B']);
  });
});
