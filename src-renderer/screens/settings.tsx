/**
 * Screen 6: a target's settings — channel, check schedule (cron or interval), maintenance window,
 * automatic download/apply, pause/resume, and the skip list. Everything writes through
 * `updateSettings` with only the fields that changed; the engine answers with the new TargetView.
 */
import { useId, useMemo, useState, type FormEvent, type ReactNode } from 'react';
import type { ErrorView, SettingsPatch, TargetView } from '../../src-shared/api';
import { ErrorMessage } from '../components/error-message';
import { useApi, useUpkeep } from '../context';
import { pauseSentence } from '../policy-text';
import {
  DAYS,
  DAY_LABELS,
  buildSettingsPatch,
  pauseOneHour,
  pauseUntilTomorrow,
  validateSettings,
  valuesFromPolicy,
  type SettingsErrors,
  type SettingsValues,
} from './settings-form';

function useSettingsWriter(target: TargetView) {
  const api = useApi();
  const applyEvent = useUpkeep((s) => s.applyEvent);
  const reportError = useUpkeep((s) => s.reportError);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorView | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const write = async (patch: SettingsPatch, doneMessage: string): Promise<boolean> => {
    setBusy(true);
    setError(null);
    setSaved(null);
    try {
      const view = await api.updateSettings(target.id, patch);
      applyEvent({ type: 'state', target: view });
      setSaved(doneMessage);
      return true;
    } catch (err) {
      setError(reportError(err));
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, saved, write };
}

function Field(props: { id: string; label: string; error?: string; hint?: string; children: ReactNode }) {
  return (
    <div className={`field${props.error ? ' field-invalid' : ''}`}>
      <label htmlFor={props.id}>{props.label}</label>
      {props.children}
      {props.hint ? (
        <p id={`${props.id}-hint`} className="hint muted">
          {props.hint}
        </p>
      ) : null}
      {props.error ? (
        <p id={`${props.id}-error`} className="field-error" role="alert">
          {props.error}
        </p>
      ) : null}
    </div>
  );
}

function describedBy(id: string, error?: string, hint?: boolean): string | undefined {
  const ids = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean);
  return ids.length ? ids.join(' ') : undefined;
}

type SettingsWriter = ReturnType<typeof useSettingsWriter>;

function PolicyForm({ target, writer }: { target: TargetView; writer: SettingsWriter }) {
  const uid = useId();
  const id = (name: string) => `${uid}-${name}`;
  const initial = useMemo(() => valuesFromPolicy(target.policy), [target.policy]);
  const [v, setV] = useState<SettingsValues>(initial);
  const [errors, setErrors] = useState<SettingsErrors>({});
  const { busy, error, saved, write } = writer;
  const patch = buildSettingsPatch(target.policy, v);
  const dirty = Object.keys(patch).length > 0;
  const zones = useMemo(() => (typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : []), []);

  const set = <K extends keyof SettingsValues>(key: K, value: SettingsValues[K]) => setV((prev) => ({ ...prev, [key]: value }));
  const toggleDay = (day: string) => set('days', v.days.includes(day) ? v.days.filter((d) => d !== day) : [...v.days, day]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const found = validateSettings(v);
    setErrors(found);
    if (Object.keys(found).length > 0 || !dirty) return;
    void write(patch, 'Settings saved.');
  };

  return (
    <form className="card settings-form" onSubmit={submit} aria-labelledby={id('title')} noValidate data-testid="settings-form">
      <h2 id={id('title')}>Update policy</h2>
      <Field id={id('channel')} label="Channel" error={errors.channel} hint="Which release channel to follow, e.g. stable or beta.">
        <input
          id={id('channel')}
          value={v.channel}
          onChange={(e) => set('channel', e.target.value)}
          aria-invalid={errors.channel ? true : undefined}
          aria-describedby={describedBy(id('channel'), errors.channel, true)}
          data-testid="setting-channel"
        />
      </Field>

      <fieldset className="fieldset">
        <legend>Check for updates</legend>
        <div className="radio-row">
          {(['interval', 'cron', 'manual'] as const).map((mode) => (
            <label key={mode} className="choice">
              <input type="radio" name={id('mode')} value={mode} checked={v.scheduleMode === mode} onChange={() => set('scheduleMode', mode)} data-testid={`schedule-${mode}`} />
              {mode === 'interval' ? 'At a fixed interval' : mode === 'cron' ? 'On a cron schedule' : 'Only when I ask'}
            </label>
          ))}
        </div>
        {v.scheduleMode === 'interval' ? (
          <Field id={id('interval')} label="Interval" error={errors.intervalValue}>
            <div className="inline-inputs">
              <input
                id={id('interval')}
                type="number"
                min="1"
                step="any"
                inputMode="decimal"
                value={v.intervalValue}
                onChange={(e) => set('intervalValue', e.target.value)}
                aria-invalid={errors.intervalValue ? true : undefined}
                aria-describedby={describedBy(id('interval'), errors.intervalValue)}
                data-testid="setting-interval"
              />
              <select aria-label="Interval unit" value={v.intervalUnit} onChange={(e) => set('intervalUnit', e.target.value as SettingsValues['intervalUnit'])} data-testid="setting-interval-unit">
                <option value="minutes">minutes</option>
                <option value="hours">hours</option>
              </select>
            </div>
          </Field>
        ) : null}
        {v.scheduleMode === 'cron' ? (
          <Field id={id('cron')} label="Cron schedule" error={errors.cron} hint='Five fields: minute hour day month weekday, e.g. "0 3 * * *" for 03:00 daily.'>
            <input
              id={id('cron')}
              value={v.cron}
              spellCheck={false}
              onChange={(e) => set('cron', e.target.value)}
              aria-invalid={errors.cron ? true : undefined}
              aria-describedby={describedBy(id('cron'), errors.cron, true)}
              data-testid="setting-cron"
            />
          </Field>
        ) : null}
      </fieldset>

      <fieldset className="fieldset">
        <legend>Maintenance window</legend>
        <label className="choice">
          <input type="checkbox" checked={v.windowEnabled} onChange={(e) => set('windowEnabled', e.target.checked)} data-testid="setting-window-enabled" />
          Apply automatic updates only inside a maintenance window
        </label>
        {v.windowEnabled ? (
          <>
            <fieldset className="fieldset fieldset-inner">
              <legend>Days (none selected means every day)</legend>
              <div className="day-row">
                {DAYS.map((d) => (
                  <label key={d} className="choice day-choice">
                    <input type="checkbox" aria-label={DAY_LABELS[d]} checked={v.days.includes(d)} onChange={() => toggleDay(d)} data-testid={`setting-day-${d}`} />
                    <span aria-hidden="true">{d.charAt(0).toUpperCase() + d.slice(1)}</span>
                  </label>
                ))}
              </div>
            </fieldset>
            <div className="inline-fields">
              <Field id={id('start')} label="Start" error={errors.start}>
                <input id={id('start')} type="time" value={v.start} onChange={(e) => set('start', e.target.value)} aria-invalid={errors.start ? true : undefined} data-testid="setting-window-start" />
              </Field>
              <Field id={id('end')} label="End" error={errors.end}>
                <input id={id('end')} type="time" value={v.end} onChange={(e) => set('end', e.target.value)} aria-invalid={errors.end ? true : undefined} data-testid="setting-window-end" />
              </Field>
              <Field id={id('tz')} label="Time zone" error={errors.timezone}>
                <input
                  id={id('tz')}
                  list={id('zones')}
                  value={v.timezone}
                  onChange={(e) => set('timezone', e.target.value)}
                  aria-invalid={errors.timezone ? true : undefined}
                  aria-describedby={describedBy(id('tz'), errors.timezone)}
                  data-testid="setting-window-timezone"
                />
                <datalist id={id('zones')}>
                  {zones.map((z) => (
                    <option key={z} value={z} />
                  ))}
                </datalist>
              </Field>
            </div>
            <p className="hint muted">A window may cross midnight, e.g. 22:00 to 04:00.</p>
          </>
        ) : null}
      </fieldset>

      <fieldset className="fieldset">
        <legend>Automatic updates</legend>
        <label className="choice">
          <input type="checkbox" checked={v.autoDownload} onChange={(e) => set('autoDownload', e.target.checked)} data-testid="setting-auto-download" />
          Download new releases in the background
        </label>
        <Field id={id('auto-apply')} label="Apply automatically">
          <select id={id('auto-apply')} value={v.autoApply} onChange={(e) => set('autoApply', e.target.value as SettingsValues['autoApply'])} data-testid="setting-auto-apply">
            <option value="none">Never — I apply updates myself</option>
            <option value="critical">Critical updates only</option>
            <option value="all">All updates</option>
          </select>
        </Field>
      </fieldset>

      {error ? <ErrorMessage error={error} title="Settings were not saved" /> : null}
      {saved && !dirty ? (
        <p className="notice notice-ok" role="status" data-testid="settings-saved">
          {saved}
        </p>
      ) : null}
      <div className="actions">
        <button type="submit" className="button button-primary" disabled={busy || !dirty} data-testid="settings-save">
          {busy ? 'Saving…' : 'Save settings'}
        </button>
        <button type="button" className="button" disabled={busy || !dirty} onClick={() => (setV(initial), setErrors({}))}>
          Discard changes
        </button>
      </div>
    </form>
  );
}

function PauseAndSkip({ target }: { target: TargetView }) {
  const { busy, error, saved, write } = useSettingsWriter(target);
  const [skipInput, setSkipInput] = useState('');
  const uid = useId();
  const paused = target.policy.paused_until;
  const skips = target.policy.skip_versions;

  const addSkip = (e: FormEvent) => {
    e.preventDefault();
    const version = skipInput.trim();
    if (version === '' || skips.includes(version)) return;
    void write({ skip_versions: [...skips, version] }, `Version ${version} will be skipped.`).then((ok) => ok && setSkipInput(''));
  };

  return (
    <section className="card" aria-labelledby={`${uid}-pause`}>
      <h2 id={`${uid}-pause`}>Pause</h2>
      <p data-testid="pause-status">{pauseSentence(target.policy)}</p>
      <div className="actions">
        <button type="button" className="button" disabled={busy} onClick={() => void write({ paused_until: pauseOneHour(new Date()) }, 'Paused for one hour.')} data-testid="pause-hour">
          Pause 1 hour
        </button>
        <button type="button" className="button" disabled={busy} onClick={() => void write({ paused_until: pauseUntilTomorrow(new Date()) }, 'Paused until tomorrow.')} data-testid="pause-tomorrow">
          Pause until tomorrow
        </button>
        <button type="button" className="button" disabled={busy || !paused} onClick={() => void write({ paused_until: null }, 'Resumed.')} data-testid="resume">
          Resume
        </button>
      </div>

      <h2 id={`${uid}-skip`} className="section-gap">
        Skipped versions
      </h2>
      {skips.length === 0 ? (
        <p className="muted" data-testid="skip-empty">
          No versions are skipped.
        </p>
      ) : (
        <ul className="skip-list" aria-labelledby={`${uid}-skip`} data-testid="skip-list">
          {skips.map((s) => (
            <li key={s}>
              <code>{s}</code>
              <button
                type="button"
                className="button button-link"
                disabled={busy}
                aria-label={`Stop skipping ${s}`}
                onClick={() => void write({ skip_versions: skips.filter((x) => x !== s) }, `Version ${s} is no longer skipped.`)}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <form className="inline-inputs" onSubmit={addSkip}>
        <label htmlFor={`${uid}-skip-input`} className="visually-hidden">
          Version to skip
        </label>
        <input id={`${uid}-skip-input`} placeholder="Version to skip, e.g. 1.4.0" value={skipInput} onChange={(e) => setSkipInput(e.target.value)} data-testid="skip-input" />
        <button type="submit" className="button" disabled={busy || skipInput.trim() === ''}>
          Skip version
        </button>
      </form>
      {error ? <ErrorMessage error={error} title="Not saved" /> : null}
      {saved ? (
        <p className="notice notice-ok" role="status">
          {saved}
        </p>
      ) : null}
    </section>
  );
}

/** The Settings tab. The policy form restarts from the engine's values whenever they change. */
export function SettingsTab({ target }: { target: TargetView }) {
  const p = target.policy;
  const formKey = JSON.stringify([p.channel, p.check_schedule, p.check_interval_s, p.maintenance_window, p.auto_download, p.auto_apply]);
  // Kept outside the form so "Settings saved" survives the form restarting with the new policy.
  const writer = useSettingsWriter(target);
  return (
    <div className="settings-tab" data-testid="settings-screen">
      <PolicyForm key={formKey} target={target} writer={writer} />
      <PauseAndSkip target={target} />
    </div>
  );
}
