/**
 * Outcome → report: success, rolled back, undo failed, failure and cancel stay five different
 * things in what the caller gets, what history says and which notification goes out.
 */
import { describe, it, expect } from 'vitest';
import { OperationError, UpkeepError, VerificationError } from '../../../src-shared/errors';
import { applyReport, errorReport, rollbackReport, type ReportSubject } from '../../../src-main/engine/runner/reports';

const S: ReportSubject = { target: 'demo', name: 'Demo', operation: 'apply', from: '1.0.0', to: '1.1.0' };

describe('applyReport', () => {
  it('committed is a success with an update_completed notification', () => {
    const r = applyReport(S, { kind: 'committed', files_updated: ['a'], files_removed: [], rollback_id: 'rb_1', warnings: [] });
    expect(r.error).toBeNull();
    expect(r.history).toBe('success');
    expect(r.notification).toMatchObject({ type: 'update_completed', version: '1.1.0', from_version: '1.0.0' });
  });

  it('rolled_back keeps the cause code and says rolled_back with the cause in details', () => {
    const r = applyReport(S, { kind: 'rolled_back', cause: { code: 'ERR_HEALTH_CHECK_FAILED', message: 'unhealthy', details: { attempts: 3 } }, warnings: [] });
    expect(r.error?.code).toBe('ERR_HEALTH_CHECK_FAILED');
    expect(r.error?.message).toBe('unhealthy — rolled back to 1.0.0');
    expect(r.error?.details).toEqual({
      attempts: 3, rolled_back: true, cause: { code: 'ERR_HEALTH_CHECK_FAILED', message: 'unhealthy' }, to_version: '1.1.0', rolled_back_to: '1.0.0',
    });
    expect(r.history).toBe('rolled_back');
    expect(r.notification).toMatchObject({ type: 'rolled_back', version: '1.0.0', from_version: '1.1.0', error: { code: 'ERR_HEALTH_CHECK_FAILED' } });
  });

  it('undo_failed is a failure that is not a rollback', () => {
    const r = applyReport(S, { kind: 'undo_failed', cause: { code: 'ERR_STEP_FAILED', message: 'switch failed' }, undo_error: { code: 'ERR_STEP_FAILED', message: 'the rollback step failed too: exit 1' }, warnings: [] });
    expect(r.error?.code).toBe('ERR_STEP_FAILED');
    expect(r.error?.details).toMatchObject({ rolled_back: false, undo_failed: true });
    expect(r.error?.message).toBe('switch failed; the rollback step failed too: exit 1');
    expect(r.history).toBe('failed');
    expect(r.notification?.type).toBe('update_failed');
  });

  it('an unknown cause code becomes ERR_APPLY_FAILED', () => {
    const r = applyReport(S, { kind: 'rolled_back', cause: { code: 'ERR_FROM_THE_FUTURE', message: 'x' }, warnings: [] });
    expect(r.error?.code).toBe('ERR_APPLY_FAILED');
  });
});

describe('rollbackReport', () => {
  const R: ReportSubject = { ...S, operation: 'rollback', from: '1.1.0', to: null };
  it('committed announces the version returned to', () => {
    const r = rollbackReport(R, { kind: 'committed', rollback_id: 'rb_1', version: '1.0.0', from_version: '1.1.0', warnings: [] });
    expect(r.error).toBeNull();
    expect(r.history).toBe('success');
    expect(r.notification).toMatchObject({ type: 'rolled_back', version: '1.0.0', from_version: '1.1.0' });
  });
  it('an undone rollback is a failure', () => {
    const r = rollbackReport(R, { kind: 'rolled_back', cause: { code: 'ERR_HASH_MISMATCH', message: 'bytes changed' }, warnings: [] });
    expect(r.error?.code).toBe('ERR_HASH_MISMATCH');
    expect(r.history).toBe('failed');
  });
});

describe('errorReport', () => {
  it('a cancel is not a failure: history cancelled, update_cancelled notification, no error notification', () => {
    const r = errorReport(S, new UpkeepError('ERR_CANCELLED', 'Cancelled by the user'));
    expect(r.history).toBe('cancelled');
    expect(r.error?.code).toBe('ERR_CANCELLED');
    expect(r.notification?.type).toBe('update_cancelled');
    expect(r.log.level).not.toBe('error');
  });
  it('a verification error is refused, an operation error failed', () => {
    expect(errorReport(S, new VerificationError('ERR_HASH_MISMATCH', 'x')).history).toBe('refused');
    expect(errorReport(S, new OperationError('ERR_HOOK_FAILED', 'pre_apply vetoed')).history).toBe('failed');
    expect(errorReport(S, new OperationError('ERR_HOOK_FAILED', 'x')).notification?.type).toBe('update_failed');
  });
  it('a failed check sends no notification', () => {
    expect(errorReport({ ...S, operation: 'check' }, new Error('boom')).notification).toBeNull();
  });
});
