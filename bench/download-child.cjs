// Child process of bench/download.mjs: one verified download with the built engine, then prints
// {ms, max_rss_bytes} as JSON. Its own process, so its peak RSS is the downloader's alone.
'use strict';
const path = require('node:path');
const { downloadFile } = require(path.join(__dirname, '..', 'dist', 'node', 'src-main', 'engine', 'net', 'download.js'));

const [url, dest, size, sha256] = process.argv.slice(2);
const t0 = process.hrtime.bigint();
downloadFile({ url, dest, partial: `${dest}.part`, size: Number(size), sha256, allowInsecureHttp: false }).then(
  () => {
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    process.stdout.write(JSON.stringify({ ms, max_rss_bytes: process.resourceUsage().maxRSS * 1024 }) + '\n');
  },
  (err) => {
    console.error(err && err.stack ? err.stack : String(err));
    process.exitCode = 1;
  },
);
