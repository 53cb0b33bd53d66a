#!/usr/bin/env bash
# Lints the OpenAPI document the service serves with Spectral (spectral:oas) and Redocly
# (recommended): any error fails; warnings are printed (README lists why each one stays).
set -euo pipefail
cd "$(dirname "$0")/.."

document="$(mktemp -d)/openapi.json"
npm run -s openapi -- "$document"
npx spectral lint --ruleset .spectral.yaml --fail-severity error "$document"
# No telemetry or update check: CI reaches no network but the package registry.
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
  npx redocly lint --config redocly.yaml --format stylish "$document"
