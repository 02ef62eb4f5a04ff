// @vitest-environment jsdom
/**
 * A release accepted with `trust: { none: true }` reads "Unverified", and one accepted with
 * `trust: { checksums_only: true }` reads "Checksums only", wherever the dashboard offers it:
 * the target card, the target page's flags, facts and notice, and the release picker.
 */
import { describe, it, expect } from 'vitest';
import { fireEvent, within } from '@testing-library/react';
import { FakeApi, makeRelease, makeTarget } from './fake-api';
import { renderApp, screen } from './dom-setup';

describe('verification level in the dashboard', () => {
  it('the targets overview flags unverified and checksums-only updates, not signed ones', async () => {
    const api = new FakeApi([
      makeTarget({ id: 'gh', name: 'GitHub app', available: makeRelease({ version: '2.0.0', verification: 'none' }) }),
      makeTarget({ id: 'eb', name: 'Electron app', available: makeRelease({ version: '3.1.0', verification: 'checksums' }) }),
      makeTarget({ id: 'native', name: 'Native app', available: makeRelease({ version: '1.2.0', verification: 'signed' }) }),
    ]);
    renderApp(api);
    const cards = await screen.findAllByTestId('target-card');
    const card = (id: string) => cards.find((c) => c.dataset.targetId === id)!;
    expect(within(card('gh')).getByTestId('unverified-badge').textContent).toBe('Unverified');
    expect(within(card('gh')).getByTestId('unverified-badge').getAttribute('title')).toMatch(/no signature or checksum is checked/);
    expect(within(card('gh')).queryByTestId('checksums-badge')).toBeNull();
    expect(within(card('eb')).getByTestId('checksums-badge').textContent).toBe('Checksums only');
    expect(within(card('eb')).queryByTestId('unverified-badge')).toBeNull();
    expect(within(card('native')).queryByTestId('unverified-badge')).toBeNull();
    expect(within(card('native')).queryByTestId('checksums-badge')).toBeNull();
  });

  it('the target page shows the flag, the verification fact and a notice for an unverified release', async () => {
    const api = new FakeApi([makeTarget({ available: makeRelease({ version: '2.0.0', verification: 'none' }) })]);
    renderApp(api, '#/targets/demo');
    expect((await screen.findByTestId('unverified-badge')).textContent).toBe('Unverified');
    const fact = screen.getByTestId('release-verification');
    expect(fact.textContent).toBe('unverified');
    expect(fact.dataset.level).toBe('none');
    expect(screen.getByTestId('verification-notice').textContent).toBe('Unverified: no signature or checksum is checked for this release (trust.none).');
  });

  it('the target page says "checksums only" for a checksums-only release and nothing extra for a signed one', async () => {
    const api = new FakeApi([
      makeTarget({ id: 'eb', available: makeRelease({ version: '3.1.0', verification: 'checksums' }) }),
      makeTarget({ id: 'native', available: makeRelease({ version: '1.2.0', verification: 'signed' }) }),
    ]);
    const view = renderApp(api, '#/targets/eb');
    expect((await screen.findByTestId('checksums-badge')).textContent).toBe('Checksums only');
    expect(screen.getByTestId('release-verification').textContent).toBe('checksums only');
    expect(screen.getByTestId('verification-notice').textContent).toMatch(/^Checksums only: the hashes come from the same unsigned source as the files/);
    view.unmount();
    renderApp(api, '#/targets/native');
    expect((await screen.findByTestId('release-verification')).textContent).toBe('signed');
    expect(screen.queryByTestId('unverified-badge')).toBeNull();
    expect(screen.queryByTestId('checksums-badge')).toBeNull();
    expect(screen.queryByTestId('verification-notice')).toBeNull();
  });

  it('the release picker names each choice\'s level and the flag follows the picked release', async () => {
    const newest = makeRelease({ version: '1.2.0', verification: 'none' });
    const older = makeRelease({ version: '1.1.0', verification: 'signed' });
    const oldest = makeRelease({ version: '1.0.5', verification: 'checksums' });
    const api = new FakeApi([makeTarget({ current_version: '1.0.0', available: newest })]);
    api.releaseLists.demo = { eligible: [newest, older, oldest] };
    renderApp(api, '#/targets/demo');
    const choices = await screen.findAllByTestId('release-choice');
    expect(choices.map((c) => c.dataset.version)).toEqual(['1.2.0', '1.1.0', '1.0.5']);
    expect(choices[0].textContent).toContain('· unverified');
    expect(choices[1].textContent).not.toMatch(/unverified|checksums/);
    expect(choices[2].textContent).toContain('· checksums only');
    expect(screen.getByTestId('unverified-badge')).toBeTruthy();
    fireEvent.click(within(choices[1]).getByRole('radio'));
    expect(screen.queryByTestId('unverified-badge')).toBeNull();
    expect(screen.getByTestId('release-verification').textContent).toBe('signed');
    fireEvent.click(within(choices[2]).getByRole('radio'));
    expect(screen.getByTestId('checksums-badge')).toBeTruthy();
  });
});
