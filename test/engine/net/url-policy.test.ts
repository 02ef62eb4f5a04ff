import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  asDirectoryUrl,
  checkRedirectAllowed,
  checkUrlAllowed,
  isLoopbackHost,
  normaliseFeedUrl,
  resolveFeedPath,
  resolveRelative,
} from '../../../src-main/engine/net/url-policy';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

describe('normaliseFeedUrl', () => {
  it('turns plain paths into file:// URLs resolved against baseDir', () => {
    const base = path.resolve('/srv/upkeep');
    expect(normaliseFeedUrl('feeds/app', base)).toBe(pathToFileURL(path.join(base, 'feeds/app')).href);
    expect(normaliseFeedUrl(path.resolve('/abs/feed'))).toBe(pathToFileURL(path.resolve('/abs/feed')).href);
    expect(normaliseFeedUrl('./x y', base)).toBe(pathToFileURL(path.join(base, 'x y')).href);
  });
  it('keeps http(s) and file URLs', () => {
    expect(normaliseFeedUrl('https://updates.example.com/feed')).toBe('https://updates.example.com/feed');
    expect(normaliseFeedUrl('http://127.0.0.1:8080/f/')).toBe('http://127.0.0.1:8080/f/');
    expect(normaliseFeedUrl('file:///var/feed')).toBe('file:///var/feed');
  });
  it('refuses other schemes', () => {
    expect(codeOf(() => normaliseFeedUrl('ftp://example.com/feed'))).toBe('ERR_INSECURE_URL');
    expect(codeOf(() => normaliseFeedUrl('javascript:alert(1)'))).toBe('ERR_INSECURE_URL');
  });
});

describe('resolveRelative and feed paths', () => {
  it('resolves manifest file URLs against the manifest URL', () => {
    expect(resolveRelative('https://h/feed/manifests/app/1.2.3.json', '../../blobs/sha256/ab')).toBe('https://h/feed/blobs/sha256/ab');
    expect(resolveRelative('https://h/feed/manifests/app/1.2.3.json', 'https://cdn/x')).toBe('https://cdn/x');
    expect(resolveRelative('file:///srv/feed/manifests/a.json', 'b.bin')).toBe('file:///srv/feed/manifests/b.bin');
  });
  it('treats the feed root as a directory', () => {
    expect(asDirectoryUrl('https://h/feed')).toBe('https://h/feed/');
    expect(resolveFeedPath('https://h/feed', 'channels/stable.json')).toBe('https://h/feed/channels/stable.json');
    expect(resolveFeedPath('https://h/feed/', 'channels/stable.json')).toBe('https://h/feed/channels/stable.json');
    expect(resolveFeedPath('file:///srv/feed', 'manifests/a/1.json')).toBe('file:///srv/feed/manifests/a/1.json');
  });
});

describe('checkUrlAllowed', () => {
  const strict = { allowInsecureHttp: false };
  it('allows https, file and loopback http', () => {
    for (const u of [
      'https://example.com/a',
      'file:///tmp/a',
      'http://127.0.0.1:9/a',
      'http://127.8.9.10/a',
      'http://[::1]:8080/a',
      'http://localhost/a',
      'http://[::ffff:127.0.0.1]/a',
    ]) {
      expect(codeOf(() => checkUrlAllowed(u, strict)), u).toBeUndefined();
    }
  });
  it('refuses non-loopback http unless allowed, and other schemes always', () => {
    expect(codeOf(() => checkUrlAllowed('http://example.com/a', strict))).toBe('ERR_INSECURE_URL');
    expect(codeOf(() => checkUrlAllowed('http://128.0.0.1/a', strict))).toBe('ERR_INSECURE_URL');
    expect(codeOf(() => checkUrlAllowed('http://localhost.evil.com/a', strict))).toBe('ERR_INSECURE_URL');
    expect(codeOf(() => checkUrlAllowed('http://[::ffff:10.0.0.1]/a', strict))).toBe('ERR_INSECURE_URL');
    expect(codeOf(() => checkUrlAllowed('http://example.com/a', { allowInsecureHttp: true }))).toBeUndefined();
    for (const u of ['ftp://example.com/a', 'data:text/plain,hi', 'javascript:alert(1)', 'gopher://x/', 'not a url']) {
      expect(codeOf(() => checkUrlAllowed(u, { allowInsecureHttp: true })), u).toBe('ERR_INSECURE_URL');
    }
  });
  it('refuses embedded credentials', () => {
    expect(codeOf(() => checkUrlAllowed('https://user:pw@example.com/a', strict))).toBe('ERR_INSECURE_URL');
  });
  it('knows loopback hosts', () => {
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('LOCALHOST.')).toBe(true);
    expect(isLoopbackHost('10.0.0.1')).toBe(false);
    expect(isLoopbackHost('::2')).toBe(false);
  });
});

describe('checkRedirectAllowed', () => {
  const strict = { allowInsecureHttp: false };
  it('refuses redirects into file: and https->http downgrades', () => {
    expect(codeOf(() => checkRedirectAllowed('https://h/a', 'file:///etc/passwd', strict))).toBe('ERR_INSECURE_URL');
    expect(codeOf(() => checkRedirectAllowed('https://h/a', 'http://127.0.0.1/a', strict))).toBe('ERR_INSECURE_URL');
    expect(codeOf(() => checkRedirectAllowed('http://127.0.0.1/a', 'http://example.com/a', strict))).toBe('ERR_INSECURE_URL');
  });
  it('allows https targets and loopback http to loopback http', () => {
    expect(codeOf(() => checkRedirectAllowed('https://h/a', 'https://cdn.example.com/b', strict))).toBeUndefined();
    expect(codeOf(() => checkRedirectAllowed('http://127.0.0.1:1/a', 'http://localhost:2/b', strict))).toBeUndefined();
  });
});
