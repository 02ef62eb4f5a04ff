// @vitest-environment jsdom
import { describe, it, expect } from 'vitest';
import { within } from '@testing-library/react';
import { FakeApi, makeTarget } from './fake-api';
import { renderApp, screen } from './dom-setup';

describe('git and compose targets on the target page', () => {
  it('names the kind and lists the commit of a git target', async () => {
    const api = new FakeApi([makeTarget({ kind: 'git', layout: null, facts: [{ label: 'Commit', value: '0a1b2c3d4e5f' }, { label: 'Tracks', value: 'origin tags v*' }] })]);
    renderApp(api, '#/targets/demo');
    expect((await screen.findByTestId('target-name')).textContent).toBe('Demo Service');
    expect(screen.getByText(/git work tree/)).toBeTruthy();
    const facts = screen.getByTestId('target-facts');
    expect(within(facts).getByText('Commit')).toBeTruthy();
    expect(within(facts).getByText('0a1b2c3d4e5f')).toBeTruthy();
    expect(within(facts).getByText('origin tags v*')).toBeTruthy();
  });

  it('lists the digest of each service of a compose target', async () => {
    const api = new FakeApi([makeTarget({ kind: 'compose', layout: null, facts: [{ label: 'api', value: 'sha256:1234abcd…' }, { label: 'web', value: 'sha256:9876fedc…' }] })]);
    renderApp(api, '#/targets/demo');
    await screen.findByTestId('target-name');
    expect(screen.getByText(/compose stack/)).toBeTruthy();
    const facts = screen.getByTestId('target-facts');
    expect(within(facts).getAllByRole('definition').map((d) => d.textContent)).toEqual(['sha256:1234abcd…', 'sha256:9876fedc…']);
  });

  it('shows no facts list for a files target', async () => {
    renderApp(new FakeApi([makeTarget()]), '#/targets/demo');
    await screen.findByTestId('target-name');
    expect(screen.queryByTestId('target-facts')).toBeNull();
  });
});
