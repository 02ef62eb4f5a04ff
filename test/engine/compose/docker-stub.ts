/**
 * A stand-in `docker` executable for compose target tests (no Docker engine runs here). It keeps
 * a small JSON world — local images by digest, the image each service's container runs — records
 * every call, and fails the subcommands named in DOCKER_STUB_FAIL ("pull", "up") on demand.
 * Images come from the compose files passed with -f (the last one naming a service wins), as
 * `docker compose` merges them.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';

export interface StubWorld {
  /** Local images: "registry/repo@sha256:…" → true. */
  images: Record<string, boolean>;
  /** Service → the pinned reference its container was created from. */
  running: Record<string, string>;
  /** Every call's arguments (without the program name). */
  calls: string[][];
}

const SCRIPT = String.raw`#!/usr/bin/env node
'use strict';
const fs = require('fs');
const YAML = require(process.env.DOCKER_STUB_YAML);
const file = process.env.DOCKER_STUB_STATE;
const w = JSON.parse(fs.readFileSync(file, 'utf8'));
const args = process.argv.slice(2);
w.calls.push(args);
const save = () => fs.writeFileSync(file, JSON.stringify(w));
const fail = (msg, code = 1) => { save(); process.stderr.write(msg + '\n'); process.exit(code); };
const failing = (process.env.DOCKER_STUB_FAIL || '').split(',');
if (args[0] === 'compose') {
  const files = []; let i = 1; let project = null;
  for (; i < args.length; i++) {
    if (args[i] === '-f') files.push(args[++i]);
    else if (args[i] === '-p') project = args[++i];
    else break;
  }
  const images = {};
  for (const f of files) {
    const doc = YAML.parse(fs.readFileSync(f, 'utf8')) || {};
    for (const [svc, def] of Object.entries(doc.services || {})) if (def && def.image) images[svc] = def.image.replace(/\$\{REG\}/g, process.env.REG || '');
  }
  const sub = args[i]; const rest = args.slice(i + 1).filter((a) => a !== '-d' && a !== '-q');
  if (failing.includes(sub)) fail('Error response from daemon: simulated ' + sub + ' failure');
  if (sub === 'pull') { for (const s of rest) { if (!images[s].includes('@')) fail('stub pulls pinned images only: ' + images[s]); w.images[images[s]] = true; } }
  else if (sub === 'up') { for (const s of rest) { if (!w.images[images[s]]) fail('Error: No such image: ' + images[s]); w.running[s] = images[s]; } }
  else if (sub === 'ps') { for (const s of rest) if (w.running[s]) process.stdout.write('cid-' + s + '\n'); }
  else fail('stub: unknown compose subcommand ' + sub);
} else if (args[0] === 'inspect') {
  for (const c of args.slice(3)) { const ref = w.running[c.replace(/^cid-/, '')]; process.stdout.write('img-' + ref.split('@')[1].slice(7) + '\n'); }
} else if (args[0] === 'image' && args[1] === 'inspect') {
  const id = args[4].replace(/^img-/, 'sha256:');
  process.stdout.write(JSON.stringify(Object.keys(w.images).filter((r) => r.endsWith('@' + id))) + '\n');
} else if (args[0] === 'image' && args[1] === 'rm') {
  if (Object.values(w.running).includes(args[2])) fail('Error: image is being used by a running container');
  if (!w.images[args[2]]) fail('Error: No such image: ' + args[2]);
  delete w.images[args[2]];
} else fail('stub: unknown command ' + args.join(' '));
save();
`;

/** Writes the stub as `docker` into `binDir`; returns helpers to read and seed its world. */
export async function installDockerStub(binDir: string, stateFile: string, yamlModule: string): Promise<{ world(): Promise<StubWorld>; seed(w: Partial<StubWorld>): Promise<void>; env: Record<string, string> }> {
  await fsp.mkdir(binDir, { recursive: true });
  await fsp.writeFile(path.join(binDir, 'docker'), SCRIPT, { mode: 0o755 });
  await fsp.writeFile(stateFile, JSON.stringify({ images: {}, running: {}, calls: [] }));
  return {
    env: { DOCKER_STUB_STATE: stateFile, DOCKER_STUB_YAML: yamlModule },
    async world() { return JSON.parse(await fsp.readFile(stateFile, 'utf8')) as StubWorld; },
    async seed(w) {
      const cur = JSON.parse(await fsp.readFile(stateFile, 'utf8')) as StubWorld;
      await fsp.writeFile(stateFile, JSON.stringify({ ...cur, ...w }));
    },
  };
}
