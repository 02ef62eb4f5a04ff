import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { promises as fsp } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { appendHistory, readHistory, historyFile } from '../../src-main/engine/history';
import type { HistoryRecord } from '../../src-shared/api';

const ROOT = process.cwd();

function rec(i: number, target = 'demo', extra: Partial<HistoryRecord> = {}): HistoryRecord {
  return {
    id: `op-${i}`,
    target,
    operation: 'apply',
    actor: 'cli',
    from_version: '1.0.0',
    to_version: '1.1.0',
    result: 'success',
    error_code: null,
    error_message: null,
    started_at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    finished_at: new Date(Date.UTC(2026, 0, 1, 0, 0, i + 1)).toISOString(),
    duration_ms: 1000,
    ...extra,
  };
}

let tmp: string;
beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-history-'));
});
afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

describe('history', () => {
  it('is empty without a file', async () => {
    expect(await readHistory(path.join(tmp, 'none'))).toEqual([]);
  });

  it('appends JSON lines and reads newest first, filtered and limited', async () => {
    for (let i = 0; i < 6; i++) await appendHistory(tmp, rec(i, i % 2 === 0 ? 'demo' : 'svc'));
    const lines = (await fsp.readFile(historyFile(tmp), 'utf8')).split('\n');
    expect(lines).toHaveLength(7);
    expect(lines[6]).toBe('');
    expect(JSON.parse(lines[0]!)).toEqual(rec(0, 'demo'));

    expect((await readHistory(tmp)).map((r) => r.id)).toEqual(['op-5', 'op-4', 'op-3', 'op-2', 'op-1', 'op-0']);
    expect((await readHistory(tmp, { target: 'svc' })).map((r) => r.id)).toEqual(['op-5', 'op-3', 'op-1']);
    expect((await readHistory(tmp, { limit: 2 })).map((r) => r.id)).toEqual(['op-5', 'op-4']);
    expect((await readHistory(tmp, { target: 'demo', limit: 2 })).map((r) => r.id)).toEqual(['op-4', 'op-2']);
    expect(await readHistory(tmp, { limit: 0 })).toEqual([]);
  });

  it('reads across many chunks of a long file', async () => {
    const notes = 'x'.repeat(300);
    const all = Array.from({ length: 600 }, (_, i) => JSON.stringify(rec(i, 'demo', { error_message: notes })) + '\n').join('');
    await fsp.writeFile(historyFile(tmp), all);
    const got = await readHistory(tmp);
    expect(got).toHaveLength(600);
    expect(got[0]!.id).toBe('op-599');
    expect(got[599]!.id).toBe('op-0');
    expect((await readHistory(tmp, { limit: 250 })).map((r) => r.id).at(-1)).toBe('op-350');
  });

  it('skips a torn last line and keeps appending cleanly after it', async () => {
    await appendHistory(tmp, rec(1));
    await fsp.appendFile(historyFile(tmp), JSON.stringify(rec(2)).slice(0, 40));
    expect((await readHistory(tmp)).map((r) => r.id)).toEqual(['op-1']);
    await appendHistory(tmp, rec(3));
    expect((await readHistory(tmp)).map((r) => r.id)).toEqual(['op-3', 'op-1']);
  });

  it('skips a line that is JSON but not a record (missing or mistyped fields), listing the others', async () => {
    await appendHistory(tmp, rec(1));
    const bad = [
      { id: 'x', target: 'demo' },
      { ...rec(9), operation: 5 },
      { ...rec(9), from_version: 7 },
      { ...rec(9), duration_ms: 'long' },
      ['op-9', 'demo'],
      'op-9',
    ];
    await fsp.appendFile(historyFile(tmp), bad.map((b) => `${JSON.stringify(b)}\n`).join(''));
    await appendHistory(tmp, rec(3));
    expect((await readHistory(tmp)).map((r) => r.id)).toEqual(['op-3', 'op-1']);
    expect((await readHistory(tmp, { target: 'demo', limit: 2 })).map((r) => r.id)).toEqual(['op-3', 'op-1']);
  });

  it('does not interleave lines appended by several processes at once', async () => {
    const script = path.join(tmp, 'append.ts');
    await fsp.writeFile(script, `import { appendHistory } from ${JSON.stringify(path.join(ROOT, 'src-main/engine/history'))};
const [dir, who] = [process.argv[2]!, process.argv[3]!];
(async () => {
  for (let i = 0; i < 40; i++) {
    await appendHistory(dir, { id: who + '-' + i, target: who, operation: 'check', actor: 'cli', from_version: null, to_version: null,
      result: 'up_to_date', error_code: null, error_message: 'p'.repeat(500), started_at: '', finished_at: '', duration_ms: i });
  }
})();
`);
    const run = (who: string): Promise<void> => new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', script, tmp, who], { cwd: ROOT, stdio: 'inherit' });
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))));
    });
    await Promise.all(['a', 'b', 'c', 'd'].map(run));
    const text = await fsp.readFile(historyFile(tmp), 'utf8');
    const lines = text.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(160);
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
    for (const who of ['a', 'b', 'c', 'd']) {
      const mine = await readHistory(tmp, { target: who });
      expect(mine.map((r) => r.duration_ms)).toEqual(Array.from({ length: 40 }, (_, i) => 39 - i));
    }
  });

  it('a FIFO or a symbolic link at history.jsonl is ERR_STATE_CORRUPT for reads and appends: never a hang, never written through', async () => {
    execFileSync('mkfifo', [historyFile(tmp)]);
    await expect(readHistory(tmp)).rejects.toMatchObject({ code: 'ERR_STATE_CORRUPT', details: { file: historyFile(tmp), reason: 'not a regular file' } });
    await expect(appendHistory(tmp, rec(1))).rejects.toMatchObject({ code: 'ERR_STATE_CORRUPT', details: { file: historyFile(tmp) } });
    await fsp.rm(historyFile(tmp));
    const elsewhere = path.join(tmp, 'elsewhere.txt');
    await fsp.writeFile(elsewhere, 'not history\n');
    await fsp.symlink(elsewhere, historyFile(tmp));
    await expect(appendHistory(tmp, rec(2))).rejects.toMatchObject({ code: 'ERR_STATE_CORRUPT', message: expect.stringContaining('a symbolic link') });
    await expect(readHistory(tmp)).rejects.toMatchObject({ code: 'ERR_STATE_CORRUPT' });
    expect(await fsp.readFile(elsewhere, 'utf8')).toBe('not history\n');
  });

  it('refuses a record without id or target', async () => {
    await expect(appendHistory(tmp, { target: 'x' } as unknown as HistoryRecord)).rejects.toMatchObject({ code: 'ERR_USAGE' });
  });
});

describe('history rotation', () => {
  let root: string;
  beforeEach(async () => {
    root = await fsp.mkdtemp(path.join(os.tmpdir(), 'upkeep-histrot-'));
  });
  afterEach(async () => {
    await fsp.rm(root, { recursive: true, force: true });
  });

  it('rotates a full file, keeps three rotated files, and reads on across them', async () => {
    for (let i = 0; i < 40; i++) await appendHistory(root, rec(i), { maxBytes: 2000 });
    const names = await fsp.readdir(root);
    const rotated = names.filter((n) => /^history-.*\.jsonl$/.test(n));
    expect(rotated.length).toBeGreaterThan(0);
    expect(rotated.length).toBeLessThanOrEqual(3);
    expect((await fsp.stat(historyFile(root))).size).toBeLessThan(2000 + 1000);
    // The newest records come first, across the current file and the rotated ones, in order.
    const recent = await readHistory(root, { limit: 12 });
    expect(recent.map((r) => r.id)).toEqual(Array.from({ length: 12 }, (_, k) => rec(39 - k).id));
  });

  it('names a rotated file by the injected clock', async () => {
    const clock = { now: () => new Date('2030-05-06T07:08:09.123Z'), monoMs: () => 0 };
    for (let i = 0; i < 10; i++) await appendHistory(root, rec(i), { maxBytes: 500, clock });
    const rotated = (await fsp.readdir(root)).filter((n) => n !== 'history.jsonl');
    expect(rotated.length).toBeGreaterThan(0);
    for (const n of rotated) expect(n).toMatch(/^history-20300506T070809123Z-[0-9a-f]{6}\.jsonl$/);
  });
});
