// Child process of bench/download.mjs: one verified download with the built engine, then prints
// {ms, max_rss_bytes} as JSON. Its own process, so its peak RSS is the downloader's alone.
'use strict';
const path = require('node:path');
const { downloadFile } = require(path.join(__dirname, '..', 'dist', 'node', 'src-main', 'engine', 'net', 'download.js'));

/**
 * This process's own peak RSS in bytes: VmHWM of /proc/self/status where there is one. getrusage's
 * maxrss is not: Linux carries it over from before execve, so a child spawned by a parent holding
 * 100 MB reports at least the parent's RSS at the fork.
 */
function peakRss() {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux: fall back to getrusage
  }
  return process.resourceUsage().maxRSS * 1024;
}

const [url, dest, size, sha256] = process.argv.slice(2);
const t0 = process.hrtime.bigint();
downloadFile({ url, dest, partial: `${dest}.part`, size: Number(size), sha256, allowInsecureHttp: false }).then(
  () => {
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    process.stdout.write(JSON.stringify({ ms, max_rss_bytes: peakRss() }) + '\n');
  },
  (err) => {
    console.error(err && err.stack ? err.stack : String(err));
    process.exitCode = 1;
  },
);
