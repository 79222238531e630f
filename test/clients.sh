#!/usr/bin/env bash
# Runs the same multi-process, topology and fault specs once per Redis client kind the app can hand
# the module (FLAGS_REDIS_CLIENT, see test/support/redis-client-kind.ts), and prints each run's time.
# The main suite (`npm test`) already runs them with the module's own ioredis client.
#   CLIENT_KINDS="node-redis5" CLIENT_SPECS="test/multi-process.e2e-spec.ts" npm run test:clients
set -euo pipefail
cd "$(dirname "$0")/.."
KINDS=${CLIENT_KINDS:-"ioredis5 ioredis6-resp2 ioredis6-resp3 node-redis5 node-redis6"}
SPECS=${CLIENT_SPECS:-"test/multi-process.e2e-spec.ts test/mixed-fleet.e2e-spec.ts test/topologies.e2e-spec.ts test/faults/redis-outage.e2e-spec.ts test/faults/leader-failover.e2e-spec.ts"}
[ -n "${SKIP_BUILD:-}" ] || npm run build:test --silent
failed=()
for kind in $KINDS; do
  started=$(date +%s)
  # shellcheck disable=SC2086
  if FLAGS_REDIS_CLIENT=$kind node --experimental-vm-modules --no-warnings \
    node_modules/jest/bin/jest.js --maxWorkers=1 $SPECS; then
    outcome=passed
  else
    outcome=FAILED
    failed+=("$kind")
  fi
  echo "test:clients: FLAGS_REDIS_CLIENT=$kind $outcome in $(($(date +%s) - started)) s"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "test:clients: failed on ${failed[*]}" >&2
  exit 1
fi
