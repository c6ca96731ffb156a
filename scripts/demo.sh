#!/usr/bin/env bash
# The demo (README: `npm run demo`): installs what is missing, starts the local Kafka broker
# unless KAFKA_BROKERS is set, then runs `diffwatch demo` (migrate embedded ClickHouse, run the
# transformer and the API, drive a simulated fleet, print a summary and the API's URL).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> installing npm packages"
  # npm install, not npm ci: the lock file cannot list chdb's engine packages for other
  # platforms (the registry reachable here does not serve them), and npm ci refuses a lock
  # without them. npm install still installs exactly the locked versions.
  npm install --no-audit --no-fund
fi
if [ -z "${KAFKA_BROKERS:-}" ]; then
  bash scripts/kafka.sh start
  export KAFKA_BROKERS="127.0.0.1:${KAFKA_PORT:-19092}"
fi
exec node bin/diffwatch.js demo "$@"
