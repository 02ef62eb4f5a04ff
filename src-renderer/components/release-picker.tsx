/**
 * The choice of which eligible release to apply (not only the newest): a radio group, newest
 * first, each with its date and flags; the chosen release's notes show below it on the Overview.
 * Also the hook that loads a target's release list (`listReleases`).
 */
import { useEffect, useId, useState } from 'react';
import type { ReleaseList, ReleaseView, TargetView } from '../../src-shared/api';
import { useApi } from '../context';
import { formatDateTime } from '../format';
import { verificationLabel } from '../../src-shared/verification';

/**
 * The target's release list, re-read whenever what it depends on changes (installed or available
 * version, skip list). Null until loaded, and when it cannot be loaded (the Overview then falls
 * back to the view's `available` release alone).
 */
export function useReleaseList(target: TargetView): ReleaseList | null {
  const api = useApi();
  const [list, setList] = useState<ReleaseList | null>(null);
  const key = `${target.current_version ?? ''}|${target.available?.version ?? ''}|${target.policy.skip_versions.join(',')}|${target.policy.channel}`;
  useEffect(() => {
    let live = true;
    api.listReleases(target.id).then(
      (l) => live && setList(l),
      () => live && setList(null),
    );
    return () => {
      live = false;
    };
  }, [api, target.id, key]);
  return list;
}

export interface ReleasePickerProps {
  releases: ReleaseView[];
  selected: string;
  onSelect: (version: string) => void;
  disabled?: boolean;
}

/** Radio list of the releases this machine may apply; render it when there is more than one. */
export function ReleasePicker({ releases, selected, onSelect, disabled }: ReleasePickerProps) {
  const uid = useId();
  return (
    <fieldset className="fieldset release-picker" data-testid="release-picker" disabled={disabled}>
      <legend>Version to apply</legend>
      <ul className="release-choices">
        {releases.map((r, i) => (
          <li key={r.version}>
            <label className="choice release-choice" data-testid="release-choice" data-version={r.version}>
              <input type="radio" name={`${uid}-release`} value={r.version} checked={selected === r.version} onChange={() => onSelect(r.version)} />
              <span className="release-choice-version">{r.version}</span>
              <span className="muted small">
                {formatDateTime(r.released_at)}
                {i === 0 ? ' · newest' : ''}
                {r.is_critical ? ' · critical' : ''}
                {r.is_breaking ? ' · breaking changes' : ''}
                {r.verification !== 'signed' ? ` · ${verificationLabel(r.verification)}` : ''}
              </span>
            </label>
          </li>
        ))}
      </ul>
    </fieldset>
  );
}
