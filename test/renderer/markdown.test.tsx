// @vitest-environment jsdom
import { describe, it, expect } from 'vitest';
import { fireEvent, render } from '@testing-library/react';
import { ReleaseNotes, safeHttpUrl } from '../../src-renderer/markdown';
import './dom-setup';

const MALICIOUS = [
  '# Notes',
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '<iframe src="https://evil.example"></iframe>',
  '<a href="javascript:alert(3)">raw link</a>',
  '[x](javascript:alert(1))',
  '[y](data:text/html,<script>alert(2)</script>)',
  '[z](JaVaScRiPt:alert(4))',
  '[v](vbscript:msgbox(1))',
  '![pic](javascript:alert(5))',
  '![remote](https://example.com/tracker.png)',
  '<div onclick="alert(6)" style="position:fixed">overlay</div>',
  '[ok](https://example.com/changelog)',
].join('\n\n');

function allAttributes(root: Element): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const el of [root, ...root.querySelectorAll('*')]) for (const a of el.attributes) out.push([a.name.toLowerCase(), a.value]);
  return out;
}

describe('release notes rendering', () => {
  it('renders malicious notes inert', () => {
    const { container } = render(<ReleaseNotes markdown={MALICIOUS} />);
    expect(container.querySelector('script')).toBeNull();
    expect(container.querySelector('iframe')).toBeNull();
    expect(container.querySelector('img')).toBeNull();
    expect(container.querySelector('[onerror]')).toBeNull();
    const attrs = allAttributes(container);
    expect(attrs.filter(([name]) => name.startsWith('on'))).toEqual([]);
    expect(attrs.filter(([name]) => name === 'style')).toEqual([]);
    for (const a of container.querySelectorAll('a')) {
      const href = a.getAttribute('href') ?? '';
      expect(href).toMatch(/^https?:\/\//);
      expect(href.toLowerCase()).not.toMatch(/javascript:|data:|vbscript:/);
    }
    // the markdown around it still renders
    expect(container.querySelector('h3')?.textContent).toBe('Notes');
  });

  it('opens http(s) links in a new tab without opener or referrer', () => {
    const { getByRole } = render(<ReleaseNotes markdown="See [the changelog](https://example.com/changelog)." />);
    const link = getByRole('link', { name: /the changelog/ });
    expect(link.getAttribute('href')).toBe('https://example.com/changelog');
    expect(link.getAttribute('target')).toBe('_blank');
    expect(link.getAttribute('rel')).toBe('noopener noreferrer');
  });

  it('routes links through openExternal when the bridge offers it', () => {
    const opened: string[] = [];
    const { getByRole } = render(<ReleaseNotes markdown="[docs](https://example.com/docs)" openExternal={(u) => opened.push(u)} />);
    const link = getByRole('link', { name: /docs/ });
    const notPrevented = fireEvent.click(link);
    expect(notPrevented).toBe(false);
    expect(opened).toEqual(['https://example.com/docs']);
  });

  it('drops relative and non-http links but keeps their text', () => {
    const { container } = render(<ReleaseNotes markdown="[rel](/etc/passwd) and [file](file:///etc/passwd) and [mail](mailto:a@b.c)" />);
    expect(container.querySelectorAll('a')).toHaveLength(0);
    expect(container.textContent).toContain('rel and file and mail');
  });

  it('safeHttpUrl accepts only absolute http(s) URLs', () => {
    expect(safeHttpUrl('https://example.com/a?b=1')).toBe('https://example.com/a?b=1');
    expect(safeHttpUrl('  http://example.com')).toBe('http://example.com/');
    expect(safeHttpUrl('javascript:alert(1)')).toBeUndefined();
    expect(safeHttpUrl('data:text/html,x')).toBeUndefined();
    expect(safeHttpUrl('//evil.example/x')).toBeUndefined();
    expect(safeHttpUrl('https://')).toBeUndefined();
  });

  it('renders GitHub-flavoured Markdown: tables, task lists, strikethrough, autolinks — still sanitised', () => {
    const gfm = [
      '| area | change |',
      '|---|---|',
      '| http | stricter parsing <script>alert(1)</script> |',
      '| auth | [rotated](javascript:alert(2)) secret |',
      '',
      '- [x] hardened header parsing',
      '- [ ] faster start-up',
      '',
      'The ~~old~~ new default.',
      '',
      'Details at https://example.com/advisory',
    ].join('\n');
    const { container } = render(<ReleaseNotes markdown={gfm} />);
    const table = container.querySelector('table');
    expect(table).not.toBeNull();
    expect([...table!.querySelectorAll('th')].map((th) => th.textContent)).toEqual(['area', 'change']);
    expect([...table!.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent?.trim()))).toEqual([
      // Raw HTML is dropped (the script's text stays as plain text, never run).
      ['http', 'stricter parsing alert(1)'],
      ['auth', 'rotated secret'],
    ]);
    const boxes = [...container.querySelectorAll<HTMLInputElement>('li input[type="checkbox"]')];
    expect(boxes.map((b) => b.checked)).toEqual([true, false]);
    expect(boxes.every((b) => b.disabled)).toBe(true);
    expect(container.querySelector('del')?.textContent).toBe('old');
    expect(container.querySelector('a[href="https://example.com/advisory"]')).not.toBeNull();
    expect(container.querySelector('script')).toBeNull();
    expect(container.textContent).not.toContain('|---|');
    for (const a of container.querySelectorAll('a')) expect(a.getAttribute('href')).toMatch(/^https?:\/\//);
  });
});
