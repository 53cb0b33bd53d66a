#!/usr/bin/env bash
# `npm start`'s compile step (prestart): SWC with the Nest CLI's settings (.swcrc), no type check.
# It compiles into dist.next/ and checks, with what it compiled, that no other process serves the
# embedded database (scripts/check-data-directory.ts) before it replaces dist/: a refused second
# `npm start` prints one line and leaves the running instance's files alone.
set -euo pipefail
rm -rf dist.next
swc src migrations ormconfig.ts scripts/check-data-directory.ts -d dist.next --config-file .swcrc --quiet
if ! node dist.next/scripts/check-data-directory.js; then
  rm -rf dist.next
  exit 1
fi
rm -rf dist
mv dist.next dist
