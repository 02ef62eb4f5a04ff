/**
 * Screen 2's Overview tab: the available release (version, flags, facts, Markdown release notes)
 * and the actions Check now / Verify only / Apply / Skip this version.
 */
import type { ApplyResult, CheckResult, ReleaseView, TargetView } from '../../src-shared/api';
import { useState } from 'react';
import { PathText } from '../components/path-text';
import { ReleasePicker, useReleaseList } from '../components/release-picker';
import { FlagBadge, VerificationFlag } from '../components/status-badge';
import { verificationLabel, verificationSentence } from '../../src-shared/verification';
import { useApi, useUpkeep } from '../context';
import { formatBytes, rolloutPendingText } from '../../src-shared/format';
import { formatDateTime, formatInstalledVersion, formatLastChecked } from '../format';
import { ReleaseNotes } from '../markdown';
import { automaticShort } from '../policy-text';
import { isBusy, isCancelled } from '../status';
import type { Outcome } from '../store';

/** Outcome text of an apply/verify call. */
export function describeApply(r: ApplyResult): Omit<Outcome, 'action'> {
  if (r.up_to_date) return { ok: true, message: `Already up to date${r.version ? ` (${r.version})` : ''}.` };
  if (r.verify_only) {
    return { ok: true, message: `Verified ${r.version}: signatures and file hashes match. Nothing was changed.` };
  }
  return { ok: true, message: r.from_version ? `Updated from ${r.from_version} to ${r.version}.` : `Installed ${r.version}.` };
}

/** The sentence for a release this machine is not yet in: "1.2.0 is rolling out; this machine is not yet in it." */
export function rolloutSentence(version: string): string {
  return `${rolloutPendingText(version)}.`;
}

/** The sentence for a version held after a manual rollback. */
export function heldSentence(held: string, available: string | null): string {
  const what = `You rolled back from ${held}, so it is held: Upkeep does not apply it automatically until a newer release appears.`;
  return available === held ? `${what} Apply installs it now.` : what;
}

/**
 * The sentence of an up-to-date target. With skipped versions it does not claim the newest release
 * is installed: a skipped one may be newer.
 */
export function upToDateSentence(target: TargetView): string {
  const skipped = target.policy.skip_versions;
  if (skipped.length === 0) return `${target.name} is on the newest release of the ${target.policy.channel} channel.`;
  return `No release of the ${target.policy.channel} channel newer than ${target.current_version ?? 'the installed one'} is offered; skipped versions (${skipped.join(', ')}) are left out.`;
}

/** Outcome text of a check call. */
export function describeCheck(r: CheckResult): Omit<Outcome, 'action'> {
  if (r.update_available && r.latest_version) return { ok: true, message: `Version ${r.latest_version} is available${r.is_critical ? ' (critical)' : ''}.` };
  return { ok: true, message: `Up to date${r.current_version ? ` (${r.current_version})` : ''}.` };
}

/**
 * Outcome text of a skip: the engine re-selects at once, so the sentence names what the returned
 * view offers now (an older release still newer than the installed one), or says it is up to date,
 * or that the next check will tell when the feed could not be read.
 */
export function describeSkip(skipped: string, view: TargetView): Omit<Outcome, 'action'> {
  const what = `Version ${skipped} will be skipped.`;
  if (view.state.kind === 'available' && view.available) return { ok: true, message: `${what} ${view.available.version} is offered instead.` };
  if (view.state.kind === 'up-to-date') return { ok: true, message: `${what} No other release is newer than ${view.current_version ?? 'the installed one'}: up to date.` };
  return { ok: true, message: `${what} The next check shows what is offered instead.` };
}

function ReleaseFacts({ release }: { release: ReleaseView }) {
  return (
    <dl className="facts">
      <div>
        <dt>Released</dt>
        <dd>{formatDateTime(release.released_at)}</dd>
      </div>
      <div>
        <dt>Channel</dt>
        <dd>{release.channel}</dd>
      </div>
      <div>
        <dt>Verification</dt>
        <dd data-testid="release-verification" data-level={release.verification} title={verificationSentence(release.verification)}>
          {verificationLabel(release.verification)}
        </dd>
      </div>
      <div>
        <dt>Download size</dt>
        <dd>
          {formatBytes(release.total_size)} in {release.file_count} {release.file_count === 1 ? 'file' : 'files'}
        </dd>
      </div>
      {release.min_upgrade_from ? (
        <div>
          <dt>Upgrades from</dt>
          <dd>
            <code>{release.min_upgrade_from}</code>
          </dd>
        </div>
      ) : null}
      {release.build_commit ? (
        <div>
          <dt>Build commit</dt>
          <dd>
            <code>{release.build_commit.slice(0, 12)}</code>
          </dd>
        </div>
      ) : null}
    </dl>
  );
}

/** The Overview tab. */
export function TargetOverviewTab({ target }: { target: TargetView }) {
  const api = useApi();
  const pending = useUpkeep((s) => s.pending[target.id]);
  const runAction = useUpkeep((s) => s.runAction);
  const busy = pending !== undefined || isBusy(target.state);

  const state = target.state;
  const list = useReleaseList(target);
  const [picked, setPicked] = useState<string | null>(null);
  // The releases offered: the engine's list, or the view's newest release alone until it loads.
  const eligible = list?.eligible.length ? list.eligible : target.available ? [target.available] : [];
  const release = eligible.find((r) => r.version === picked) ?? target.available ?? eligible[0] ?? null;
  const newest = eligible[0]?.version ?? null;
  const version = release?.version ?? (state.kind === 'available' ? state.version : null);
  const installed = list?.installed ?? null;
  const rollout = target.rollout_pending ?? list?.rollout_pending ?? null;
  const critical = release?.is_critical ?? (state.kind === 'available' && state.is_critical);
  const breaking = release?.is_breaking ?? (state.kind === 'available' && state.is_breaking);
  const skipped = version !== null && target.policy.skip_versions.includes(version);
  // A failed check (or operation) with nothing offered: whether an update exists is not known.
  const failure = state.kind === 'failed' && !isCancelled(state.error) ? state.error : null;

  const check = () => void runAction(target.id, 'check', () => api.check(target.id), describeCheck);
  const apply = (verifyOnly: boolean) =>
    void runAction(target.id, verifyOnly ? 'verify' : 'apply', () => api.apply(target.id, { ...(version ? { version } : {}), ...(verifyOnly ? { verify_only: true } : {}) }), describeApply);
  const skip = () =>
    version &&
    void runAction(target.id, 'skip', () => api.skipVersion(target.id, version), (view) => describeSkip(version, view));

  return (
    <div className="overview-tab">
      <section className="card" aria-labelledby="update-title">
        <div className="section-head">
          <h2 id="update-title">{version ? `Version ${newest ?? version} is available` : failure ? 'Update status unknown' : 'No update available'}</h2>
          <div className="flags">
            {/* The header's status badge already says "Critical update" for the newest release. */}
            {version && critical && !(state.kind === 'available' && state.is_critical && state.version === version) ? <FlagBadge kind="critical" /> : null}
            {version && breaking ? <FlagBadge kind="breaking" /> : null}
            {release?.migrations_required ? <FlagBadge kind="migrations" /> : null}
            {version && target.held_version === version ? <FlagBadge kind="held" /> : null}
            <VerificationFlag level={release?.verification} />
          </div>
        </div>
        <dl className="version-grid">
          <div>
            <dt>Installed</dt>
            <dd>{formatInstalledVersion(target)}</dd>
          </div>
          <div>
            <dt>Available</dt>
            <dd data-testid="available-version">{version ?? 'None'}</dd>
          </div>
          <div>
            <dt>Last checked</dt>
            <dd data-testid="last-checked">{formatLastChecked(target.last_checked_at)}</dd>
          </div>
        </dl>
        {rollout ? (
          <p className="notice notice-info" data-testid="rollout-pending">
            {rolloutSentence(rollout.version)}{' '}
            <span className="muted">
              The staged rollout has reached {rollout.percent}% of machines; Upkeep offers it here once this machine is included.
            </span>
          </p>
        ) : null}
        {!version && !rollout ? (
          <p className="muted" data-testid="no-offer-text">
            {state.kind === 'up-to-date'
              ? upToDateSentence(target)
              : failure?.code === 'ERR_STATE_CORRUPT'
                ? `A state file is damaged, so Upkeep does not check or update this target until it is repaired: ${failure.message} (${failure.code}).`
                : failure
                  ? `The last attempt failed, so Upkeep cannot tell whether a newer release is published: ${failure.message} (${failure.code}).`
                : 'Check the feed to see whether a newer release is published.'}
          </p>
        ) : null}
        {target.held_version ? (
          <p className="notice notice-warn" data-testid="held-version">
            {heldSentence(target.held_version, version)}
          </p>
        ) : null}
        {release && release.verification !== 'signed' ? (
          <p className={`notice ${release.verification === 'none' ? 'notice-warn' : 'notice-info'}`} data-testid="verification-notice">
            {verificationSentence(release.verification)}
          </p>
        ) : null}
        {skipped ? <p className="muted">You chose to skip this version. Remove it from the skip list in Settings to install it.</p> : null}
        {release?.breaking_changes.length ? (
          <div className="notice notice-warn">
            <strong className="notice-title">Breaking changes</strong>
            <ul>
              {release.breaking_changes.map((c, i) => (
                <li key={i}>{c}</li>
              ))}
            </ul>
          </div>
        ) : null}
        {eligible.length > 1 && version ? <ReleasePicker releases={eligible} selected={version} onSelect={setPicked} disabled={busy} /> : null}
        <div className="actions" role="group" aria-label="Update actions">
          <button type="button" className="button" onClick={check} disabled={busy} data-testid="check-button">
            Check now
          </button>
          {version ? (
            <>
              <button type="button" className="button" onClick={() => apply(true)} disabled={busy} data-testid="verify-button">
                Verify only
              </button>
              <button type="button" className="button button-primary" onClick={() => apply(false)} disabled={busy} data-testid="apply-button">
                {version === newest || newest === null ? 'Apply' : `Apply ${version}`}
              </button>
              <button type="button" className="button button-link" onClick={skip} disabled={busy || skipped} data-testid="skip-button">
                Skip this version
              </button>
            </>
          ) : null}
        </div>
        {version ? (
          <p className="hint muted">
            Verify only downloads and checks signatures and file hashes without changing anything. Apply backs up the current files first, so you can roll back.
          </p>
        ) : null}
      </section>
      {release ? (
        <section className="card" aria-labelledby="notes-title">
          <h2 id="notes-title">Release notes for {release.version}</h2>
          <ReleaseFacts release={release} />
          <ReleaseNotes markdown={release.release_notes} openExternal={api.openExternal} />
        </section>
      ) : null}
      {installed ? (
        <section className="card" aria-labelledby="installed-notes-title" data-testid="installed-notes">
          <details open={!release}>
            <summary>
              <h2 id="installed-notes-title" className="summary-heading">
                Release notes for {installed.version} (installed)
              </h2>
            </summary>
            <ReleaseFacts release={installed} />
            <ReleaseNotes markdown={installed.release_notes} openExternal={api.openExternal} testId="installed-release-notes" />
          </details>
        </section>
      ) : null}
      <section className="card" aria-labelledby="install-title">
        <h2 id="install-title">Installation</h2>
        <dl className="facts">
          <div>
            <dt>Directory</dt>
            <dd>
              <PathText path={target.install_dir} testId="install-dir" />
            </dd>
          </div>
          <div>
            <dt>Channel</dt>
            <dd>{target.policy.channel}</dd>
          </div>
          <div>
            <dt>Automatic updates</dt>
            <dd>{automaticShort(target.policy)}</dd>
          </div>
          <div>
            <dt>Rollback points</dt>
            <dd>
              {target.points_count} (keeps {target.policy.retention})
            </dd>
          </div>
        </dl>
      </section>
    </div>
  );
}
