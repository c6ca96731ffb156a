#!/usr/bin/env bash
# The whole test suite (README: `npm test`). Installs what is missing (npm packages, the Kafka
# broker jars, Debian's chromium), lets the integration tier start its own broker unless KAFKA_BROKERS is set, and
# ends with one plain summary line: "tests: N passed, N failed, N skipped".
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
  bash scripts/kafka.sh fetch
fi
# the dashboard's browser test drives Debian's chromium (never a downloaded browser build)
bash scripts/install-chromium.sh

mkdir -p test-results
set +e
npx vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest.json "$@"
rc=$?
set -e
node -e '
  const r = JSON.parse(require("fs").readFileSync("test-results/vitest.json", "utf8"));
  const skipped = (r.numPendingTests || 0) + (r.numTodoTests || 0);
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
' || true
exit $rc
