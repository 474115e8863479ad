#!/usr/bin/env node
'use strict';
// CommonJS (bin/package.json), as dist/bundle/factory.js is: a start that needs no ES module,
// `--version` or `validate`, never loads Node's ES module loader. See scripts/bundle.mjs.
require('../dist/bundle/factory.js')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
