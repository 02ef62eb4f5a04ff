/**
 * `upkeep release keygen`: a new Ed25519 signing key pair for a feed — DIR/upkeep.key (PKCS#8 PEM,
 * mode 0600) and DIR/upkeep.pub (one `ed25519:<base64>` line, for clients' trust config).
 */
import { constants as fsc, promises as fsp } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../../../src-shared/errors';
import { generateKeyPair } from '../trust/keys';
import { exists, fsyncDir } from '../fs/atomic';

export const PRIVATE_KEY_FILE = 'upkeep.key';
export const PUBLIC_KEY_FILE = 'upkeep.pub';

/** Creates `file` exclusively (never replacing anything), writes `data`, fsyncs it. */
async function createExclusive(file: string, data: string, mode: number): Promise<void> {
  const fh = await fsp.open(file, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, mode);
  try {
    // The umask may have narrowed the mode; never widened it. Set it exactly.
    await fh.chmod(mode);
    await fh.writeFile(data, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Generates a key pair into `outDir` (created with mode 0700 when missing). Refuses with ERR_USAGE
 * when either key file already exists there: a signing key is never overwritten.
 */
export async function keygen(outDir: string): Promise<{ keyPath: string; pubPath: string; keyid: string; publicLine: string }> {
  const dir = path.resolve(outDir);
  const keyPath = path.join(dir, PRIVATE_KEY_FILE);
  const pubPath = path.join(dir, PUBLIC_KEY_FILE);
  try {
    const st = await fsp.stat(dir);
    if (!st.isDirectory()) throw new UsageError('ERR_USAGE', `${outDir} exists and is not a directory`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    await fsyncDir(path.dirname(dir));
  }
  for (const p of [keyPath, pubPath]) {
    if (await exists(p)) {
      throw new UsageError('ERR_USAGE', `${p} already exists; refusing to overwrite a signing key (move it away or choose another --out directory)`, { path: p });
    }
  }
  const pair = generateKeyPair();
  try {
    await createExclusive(keyPath, pair.privatePem, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new UsageError('ERR_USAGE', `${keyPath} already exists; refusing to overwrite a signing key`, { path: keyPath });
    }
    throw err;
  }
  try {
    await createExclusive(pubPath, pair.publicLine + '\n', 0o644);
  } catch (err) {
    // Leave no private key without its public half: the pair is unusable without both.
    await fsp.rm(keyPath, { force: true });
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new UsageError('ERR_USAGE', `${pubPath} already exists; refusing to overwrite it`, { path: pubPath });
    }
    throw err;
  }
  await fsyncDir(dir);
  return { keyPath, pubPath, keyid: pair.keyid, publicLine: pair.publicLine };
}
