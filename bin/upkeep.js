#!/usr/bin/env node
'use strict';
// The built command line. `npm ci` builds it through the `prepare` script.
const path = require('node:path');
const entry = path.join(__dirname, '..', 'dist', 'node', 'src-main', 'cli', 'main.js');
require(entry).main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(err && err.stack ? err.stack : String(err)); process.exitCode = 1; }
);
