import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseImageRef, formatImageRef, pinnedRef } from '../../../src-main/engine/compose/image-ref';
import { RegistryClient, loadDockerCredentials, parseChallenge } from '../../../src-main/engine/compose/registry-client';
import { startRegistry, type Registry } from './registry-fixture';

describe('image references', () => {
  it.each([
    ['nginx', 'docker.io', 'library/nginx', 'latest', null],
    ['nginx:1.27', 'docker.io', 'library/nginx', '1.27', null],
    ['acme/api:v2', 'docker.io', 'acme/api', 'v2', null],
    ['ghcr.io/acme/api:1.2.3', 'ghcr.io', 'acme/api', '1.2.3', null],
    ['localhost:5000/app', 'localhost:5000', 'app', 'latest', null],
    ['127.0.0.1:5000/team/app:edge', '127.0.0.1:5000', 'team/app', 'edge', null],
    [`redis@sha256:${'a'.repeat(64)}`, 'docker.io', 'library/redis', 'latest', `sha256:${'a'.repeat(64)}`],
  ])('%s', (ref, registry, repository, tag, digest) => {
    expect(parseImageRef(ref)).toEqual({ registry, repository, tag, digest });
  });

  it.each(['', 'Nginx', 'acme//api', 'nginx:-bad', 'nginx@md5:zz', 'a/../b'])('refuses %j', (ref) => {
    expect(() => parseImageRef(ref)).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }));
  });

  it('writes references back in full and pinned form', () => {
    const r = parseImageRef('127.0.0.1:5000/app:1');
    expect(formatImageRef(r)).toBe('127.0.0.1:5000/app:1');
    expect(pinnedRef(r, `sha256:${'b'.repeat(64)}`)).toBe(`127.0.0.1:5000/app@sha256:${'b'.repeat(64)}`);
  });

  it('parses WWW-Authenticate challenges with commas inside quotes', () => {
    expect(parseChallenge('Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"')).toEqual({
      scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'reg', scope: 'repository:a/b:pull,push' },
    });
  });
});

describe('registry client against a real registry', () => {
  let reg: Registry;
  beforeAll(async () => { reg = await startRegistry(); });
  afterAll(async () => { await reg?.stop(); });

  it('resolves a tag to the digest of the manifest the registry stores, and follows a re-push', async () => {
    const client = new RegistryClient();
    const d1 = await reg.push('acme/api', 'stable', 'v1');
    expect(await client.resolveDigest(parseImageRef(`${reg.host}/acme/api:stable`))).toEqual({ digest: d1, mediaType: 'application/vnd.oci.image.manifest.v1+json' });
    const d2 = await reg.push('acme/api', 'stable', 'v2');
    expect(d2).not.toBe(d1);
    expect((await client.resolveDigest(parseImageRef(`${reg.host}/acme/api:stable`))).digest).toBe(d2);
  });

  it('answers the index digest for a multi-platform tag (what a pull records)', async () => {
    const d = await reg.pushIndex('acme/web', '1.0', 'web1');
    expect(await new RegistryClient().resolveDigest(parseImageRef(`${reg.host}/acme/web:1.0`))).toEqual({ digest: d, mediaType: 'application/vnd.oci.image.index.v1+json' });
  });

  it('reports a missing tag as ERR_IMAGE_NOT_FOUND', async () => {
    await expect(new RegistryClient().resolveDigest(parseImageRef(`${reg.host}/acme/none:1`))).rejects.toMatchObject({ code: 'ERR_IMAGE_NOT_FOUND' });
  });
});

describe('registry client with token authentication', () => {
  let reg: Registry;
  let configFile: string;
  beforeAll(async () => {
    reg = await startRegistry({ auth: { username: 'robot', password: 's3cret' } });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'upkeep-dockercfg-'));
    configFile = path.join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('robot:s3cret').toString('base64') } } }));
  });
  afterAll(async () => { await reg?.stop(); });

  it('gets a bearer token for the pull scope with the Docker config.json credentials, and caches it', async () => {
    const d = await reg.push('private/app', 'v1', 'p1');
    const client = new RegistryClient({ credentials: await loadDockerCredentials(configFile) });
    expect((await client.resolveDigest(parseImageRef(`${reg.host}/private/app:v1`))).digest).toBe(d);
    expect((await client.resolveDigest(parseImageRef(`${reg.host}/private/app:v1`))).digest).toBe(d);
    expect(reg.tokenRequests).toEqual(['upkeep-test-registry repository:private/app:pull']);
  });

  it('refuses with ERR_REGISTRY_AUTH without or with wrong credentials', async () => {
    await reg.push('private/app', 'v2', 'p2');
    await expect(new RegistryClient().resolveDigest(parseImageRef(`${reg.host}/private/app:v2`))).rejects.toMatchObject({ code: 'ERR_REGISTRY_AUTH' });
    const wrong = new RegistryClient({ credentials: () => ({ username: 'robot', password: 'nope' }) });
    await expect(wrong.resolveDigest(parseImageRef(`${reg.host}/private/app:v2`))).rejects.toMatchObject({ code: 'ERR_REGISTRY_AUTH' });
  });

  it('reads credentials from username/password fields and treats Docker Hub keys as docker.io', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'upkeep-dockercfg-'));
    const f = path.join(dir, 'config.json');
    writeFileSync(f, JSON.stringify({ auths: { 'https://index.docker.io/v1/': { username: 'u', password: 'p' } } }));
    expect((await loadDockerCredentials(f))('docker.io')).toEqual({ username: 'u', password: 'p' });
    expect((await loadDockerCredentials(path.join(dir, 'missing.json')))('docker.io')).toBeNull();
  });
});
