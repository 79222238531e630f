#!/usr/bin/env bash
# Checks the package as users receive it, not the source tree: build, `npm pack`, then install the
# tarball into fresh consumer apps with the README's own install lines (extracted from README.md, so
# the two cannot drift), letting npm pick the newest version of every peer the README installs (no
# pins here), compile them with their own tsc against the shipped .d.ts and boot them: offline
# definitions, the testing module, and shared mode with the app's own Redis client against a real
# redis-server and the fake PostHog. The day a new major of a peer breaks installation, this fails.
#   consumer-nest12-esm         a fresh `nest new` app (+ what README snippets import): every peer the README adds
#                               is the newest major; it also compiles every ```ts block of README.md
#   consumer-nest11-cjs         NestJS 11, CommonJS (require(esm))
#   consumer-nest12-ioredis6    already on ioredis ^6 (RESP3 by default): must resolve without --force
#   consumer-nest12-ioredis5    on ioredis 5.6.0, the floor of the peer range
#   consumer-nest12-node-redis  on node-redis 5 (redis@^5), no ioredis
# Run: npm run test:pack [-- consumer ...] (needs redis-server on PATH). The node on PATH runs everything, so
# .ci/other-node.sh runs this same check on other Node majors.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
here=test/package
consumers=(consumer-nest12-esm consumer-nest11-cjs consumer-nest12-ioredis6 consumer-nest12-ioredis5
  consumer-nest12-node-redis)
# `check.sh consumer-a consumer-b` checks only those (.ci/other-node.sh does, on other Node majors).
if [ $# -gt 0 ]; then
  for name in "$@"; do [ -d "$here/$name" ] || { echo "check.sh: no consumer $name" >&2; exit 2; }; done
  consumers=("$@")
fi
# Install and compile only (none today; a consumer listed here skips the .d.ts and runtime checks).
compile_only=()
# Apps without ioredis: the options' .d.ts names ioredis's option types, which such an app cannot
# resolve with skipLibCheck off (Nest's default has it on). Only that one error is let through.
without_ioredis=(consumer-nest12-node-redis)
# Flags that change output and speed, never resolution (no --force, no --legacy-peer-deps).
npm_flags=(--no-audit --no-fund --loglevel=error)
# .ci/other-node.sh sets this: the run on the machine's Node has just asked the registry for the
# newest versions, so later runs may take them from npm's cache.
if [ -n "${CHECK_PREFER_OFFLINE:-}" ]; then npm_flags+=(--prefer-offline); fi
started=$SECONDS

# Under /tmp, outside the project: a consumer must not resolve anything from the repo's node_modules.
work=$(mktemp -d)
jobs_started=()
cleanup() {
  # Only the process groups this script started (set -m below gives each job its own group).
  for pid in "${jobs_started[@]}"; do [ -z "$pid" ] || kill -- "-$pid" 2>/dev/null || true; done
  [ -z "${fake_pid:-}" ] || kill "$fake_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
set -m

fail() {
  echo "check.sh: FAIL: $*" >&2
  exit 1
}

# Every ```ts block of README.md becomes src/readme-line-<N>.ts of this consumer (N: the fence's line,
# so an error at line L of the file is README line N + L) and is compiled with the app against the
# packed package. A block preceded by `<!-- not-compiled: reason -->` is left out; one preceded by
# `<!-- compiled-alone: reason -->` (it declares flag keys, which would apply to every snippet) goes
# to alone/ instead and is compiled as a program of its own.
snippets_consumer=consumer-nest12-esm
readme_snippets() {
  awk -v out="$1" -v alone_out="$2" '
    /^<!-- not-compiled:/ { skip = 1; next }
    /^<!-- compiled-alone:/ { alone = 1; next }
    /^```ts$/ { if (skip) { block = 2; skipped++ }
      else if (alone) { block = 1; apart++; file = alone_out "/readme-line-" NR ".ts" }
      else { block = 1; compiled++; file = out "/readme-line-" NR ".ts" }
      skip = 0; alone = 0; next }
    /^```/ && block { if (block == 1) close(file); block = 0; next }
    block == 1 { print > file; next }
    /[^[:space:]]/ { skip = 0; alone = 0 }
    END { print "README snippets: " compiled + 0 " compiled, " apart + 0 " compiled alone, " skipped + 0 " marked not-compiled" }
  ' "$root/README.md"
}

# tsc on these files only, with the app's settings and skipLibCheck off: errors in them or in the
# package's .d.ts fail (other packages' .d.ts are not ours to fix, as below).
compile_alone() {
  local label=$1 config=tsconfig.alone.json include errors
  shift
  include=$(printf '"%s",' "$@")
  printf '{ "extends": "./tsconfig.json", "compilerOptions": { "noEmit": true, "rootDir": "." }, "include": [%s] }\n' \
    "${include%,}" >"$config"
  errors=$({ ./node_modules/.bin/tsc -p "$config" --skipLibCheck false --pretty false || true; } |
    awk '/^node_modules\// && !/^node_modules\/nestjs-posthog-flags\//{ours = 0; next}
      /^ /{if (ours) print; next} {ours = 1; print}')
  [ -z "$errors" ] || fail "$name: $label does not compile on its own:"$'\n'"$errors"
}

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}

# --- the README's install lines ------------------------------------------------------------------
# The first ```bash block under "## Install": its first `npm install` line is the package and its
# peers; the second adds a Redis client, for apps that have none yet (as the README says).
mapfile -t readme_install < <(awk '/^## Install/{s=1; next} s && /^## /{exit} s && /^```bash/{b=1; next}
  b && /^```/{exit} b && /^npm install /{sub(/[[:space:]]*#.*/, ""); print}' README.md)
[ "${#readme_install[@]}" = 2 ] && [[ ${readme_install[0]} == "npm install nestjs-posthog-flags "* ]] ||
  fail "README.md: expected two npm install lines in the Install section's bash block, got: ${readme_install[*]:-none}"
echo "README install lines: ${readme_install[0]} / ${readme_install[1]}"

# --- the templates stay formatted like the project (.tpl: kept out of the root tsc/oxlint run) ---
npx --no-install prettier --check --log-level warn --parser typescript "$here/**/*.ts.tpl" ||
  fail 'consumer templates are not prettier-formatted (npx prettier --write --parser typescript ...)'

# --- build and pack ---------------------------------------------------------------------------
npm run build --silent
tarball="$work/$(npm pack --pack-destination "$work" --loglevel=error --json |
  node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8"))[0].filename)')"
[ -f "$tarball" ] || fail "npm pack produced no tarball"

# Only what `files` promises: dist/, and the files npm always adds. Listed once: `tar | grep -q`
# under pipefail fails when grep stops reading early.
listing=$(tar tzf "$tarball")
unexpected=$(echo "$listing" |
  grep -vE '^package/(dist/.+|package\.json|README(\.md)?|LICEN[CS]E(\.md|\.txt)?)$' || true)
[ -z "$unexpected" ] || fail "unexpected files in the tarball:"$'\n'"$unexpected"
for f in dist/index.js dist/index.d.ts dist/cli/main.js; do
  grep -qx "package/$f" <<<"$listing" || fail "$f missing from the tarball"
done
if grep -qE '\.spec\.' <<<"$listing"; then fail 'spec files in the tarball'; fi
tar_files=$(wc -l <<<"$listing")
tar_kb=$(($(stat -c %s "$tarball") / 1024))
tar_top=$(sed -E 's#^package/##; s#/.*#/#' <<<"$listing" | sort -u | tr '\n' ' ')

# --- what consumers talk to in shared mode: the fake PostHog (Node built-ins only, compiled here) --
mkdir "$work/fake"
echo '{"type":"module"}' >"$work/fake/package.json"
npx --no-install tsc --ignoreConfig test/support/fake-posthog.ts --outDir "$work/fake" --module nodenext \
  --moduleResolution nodenext --target es2023 --types node --skipLibCheck
export FAKE_POSTHOG_PROJECT_API_KEY=phc_consumer_shared FAKE_POSTHOG_SECRET_KEY=phs_consumer_secret
node "$work/fake/fake-posthog.js" >"$work/fake.out" &
fake_pid=$!
for _ in $(seq 100); do grep -q '^FAKE_POSTHOG_URL=' "$work/fake.out" && break; sleep 0.1; done
FAKE_POSTHOG_URL=$(sed -n 's/^FAKE_POSTHOG_URL=//p' "$work/fake.out")
[ -n "$FAKE_POSTHOG_URL" ] || fail "the fake PostHog did not start: $(cat "$work/fake.out")"
export FAKE_POSTHOG_URL

# --- consumers: each in its own folder, installed and checked in parallel ----------------------
consumer() {
  local name=$1 dir="$work/$1" t0=$SECONDS runtime=true
  [[ " ${compile_only[*]} " != *" $name "* ]] || runtime=false
  cp -R "$here/$name" "$dir"
  mkdir "$dir/src"
  for tpl in "$here"/consumer-src/*.ts.tpl "$here/$name"/*.ts.tpl; do
    [ -e "$tpl" ] || continue
    cp "$tpl" "$dir/src/$(basename "${tpl%.tpl}")"
  done
  rm -f "$dir"/*.ts.tpl
  if [ "$name" = "$snippets_consumer" ]; then
    mkdir "$dir/alone"
    readme_snippets "$dir/src" "$dir/alone"
    compgen -G "$dir/src/readme-line-*.ts" >/dev/null || fail "no \`\`\`ts block found in README.md"
  fi
  cd "$dir"
  # The README's lines, in the app as it was (its package.json is all it has; no lockfile).
  local -a line
  read -ra line <<<"${readme_install[0]}"
  "${line[@]/#nestjs-posthog-flags/$tarball}" "${npm_flags[@]}"
  if ! node -e 'const d = require("./package.json").dependencies; process.exit(d.ioredis || d.redis ? 0 : 1)'; then
    read -ra line <<<"${readme_install[1]}"
    "${line[@]}" "${npm_flags[@]}"
  fi
  npm ls --all >/dev/null || fail "$name: npm ls reports an invalid tree (peer conflict?)"
  local t1=$SECONDS
  # One tsc run (it emits despite errors), with skipLibCheck off: skipLibCheck hides a broken .d.ts
  # (an unresolved import becomes any). Errors in the app or in our .d.ts fail; other packages'
  # .d.ts are not ours to fix (posthog-node's need the DOM lib and @types/express).
  local errors
  errors=$({ ./node_modules/.bin/tsc -p tsconfig.json --skipLibCheck false --pretty false || true; } |
    awk '/^(src\/|node_modules\/nestjs-posthog-flags\/|error)/{ours = 1; print; next}
      /^ /{if (ours) print; next} {ours = 0}')
  local versions
  versions=$(node -p '["@nestjs/core", "posthog-node", "@nestjs/terminus", "ioredis", "redis", "typescript"]
    .map((p) => { try { return p + " " + require("./node_modules/" + p + "/package.json").version } catch { return "" } })
    .filter(Boolean).join(", ")')
  if ! $runtime; then
    errors=$(grep -v '^node_modules/' <<<"$errors" || true)
    [ -z "$errors" ] || fail "$name: the app does not compile:"$'\n'"$errors"
    echo "consumer $name: ok (installed and compiled; .d.ts check and runtime SKIPPED: in compile_only)"
    echo "summary: $name: $versions; install $((t1 - t0))s, compile $((SECONDS - t1))s; runtime SKIPPED"
    return
  fi
  if [[ " ${without_ioredis[*]} " == *" $name "* ]]; then
    errors=$(grep -v "Cannot find module 'ioredis'" <<<"$errors" || true)
  fi
  [ -z "$errors" ] || fail "$name: the app or the package's .d.ts files do not type-check:"$'\n'"$errors"
  [ -f dist/check.js ] || fail "$name: tsc emitted nothing"
  if [ "$name" = consumer-nest12-esm ]; then
    newest_majors
    for snippet in alone/*.ts; do
      if [ -e "$snippet" ]; then compile_alone "README ${snippet#alone/}" "$snippet"; fi
    done
    typed_keys
  fi

  # No deep imports: the exports map must hide dist/ while the package name itself resolves.
  node -e "import('nestjs-posthog-flags')" || fail "$name: the package name does not import"
  if node -e "import('nestjs-posthog-flags/dist/index.js')" 2>deep.err; then
    fail "$name: a deep import of dist/index.js succeeded (exports map does not hide internals)"
  fi
  grep -q ERR_PACKAGE_PATH_NOT_EXPORTED deep.err || fail "$name: deep import failed oddly: $(cat deep.err)"
  # The OpenFeature subpath loads where @openfeature/server-sdk is installed (the root never needs it).
  if [ -d node_modules/@openfeature/server-sdk ]; then
    local load="import('nestjs-posthog-flags/openfeature')"
    [ "$name" != consumer-nest11-cjs ] || load="Promise.resolve(require('nestjs-posthog-flags/openfeature'))"
    node -e "$load.then((m) => process.exit(typeof m.PostHogFlagsProvider === 'function' ? 0 : 1))" ||
      fail "$name: nestjs-posthog-flags/openfeature does not load"
  fi
  # The cache subpath loads without Nest (a resolve hook refuses every @nestjs/* import).
  node --import "$root/test/package/refuse-nest.mjs" -e "import('nestjs-posthog-flags/cache').then((m) => process.exit(typeof m.RedisFlagDefinitionCache === 'function' ? 0 : 1))" ||
    fail "$name: nestjs-posthog-flags/cache does not load without Nest"
  if [ "$name" = consumer-nest11-cjs ]; then
    # Proves this consumer really goes through require(esm), not a transpiled import().
    grep -q 'require("nestjs-posthog-flags")' dist/app.module.js || fail "$name: output is not CommonJS"
    # Nest 11's starter tsconfig says nodenext (CJS output without "type"): must type-check too.
    ./node_modules/.bin/tsc -p tsconfig.json --noEmit --module nodenext --moduleResolution nodenext
  fi

  # Its own redis-server on a free port: consumers run at once and each must lead its own.
  local redis_port redis_pid
  redis_port=$(free_port)
  redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no >redis.log 2>&1 &
  redis_pid=$!
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  REDIS_URL="redis://127.0.0.1:$redis_port" timeout 60 node dist/check.js "$name"
  kill "$redis_pid"
  echo "summary: $name: $versions; install $((t1 - t0))s, compile+run $((SECONDS - t1))s"
}

# The package's bin, as a consumer runs it: `npx nestjs-posthog-flags types` writes the example app's
# flag keys, and a file using them compiles against the packed .d.ts (a typo in it must not).
typed_keys() {
  mkdir typed
  npx --no-install nestjs-posthog-flags types --file "$root/test/app/flags.json" --out typed/flag-keys.ts \
    2>typed.err || fail "$name: npx nestjs-posthog-flags types failed: $(cat typed.err)"
  grep -qxF "    'pricing-experiment': 'control' | 'test-a' | 'test-b';" typed/flag-keys.ts ||
    fail "$name: the generated declaration lacks pricing-experiment's variants:"$'\n'"$(cat typed/flag-keys.ts)"
  cp "$root/$here/typed-keys/usage.ts.tpl" typed/usage.ts
  compile_alone 'the generated flag keys' typed/flag-keys.ts typed/usage.ts
  echo "consumer $name: npx nestjs-posthog-flags types: $(sed 's/^nestjs-posthog-flags types: //' typed.err)"
}

# In a fresh app the README's install must pick the newest major of every peer it installs (npm
# quietly falling back to an older major is how ioredis 6 users were turned away).
newest_majors() {
  local outdated
  outdated=$(npm outdated --json 2>/dev/null || true)
  node -e '
    const peers = Object.keys(require(process.argv[1]).peerDependencies);
    const outdated = JSON.parse(process.argv[2] || "{}");
    const major = (v) => String(v).split(".")[0];
    const behind = peers.filter((p) => outdated[p] && major(outdated[p].current) !== major(outdated[p].latest));
    for (const p of behind) console.error(`${p}: installed ${outdated[p].current}, newest ${outdated[p].latest}`);
    process.exit(behind.length ? 1 : 0);
  ' "$root/package.json" "$outdated" || fail "consumer-nest12-esm: the README install did not pick the newest major of every peer"
}

for name in "${consumers[@]}"; do
  (consumer "$name") >"$work/$name.log" 2>&1 &
  jobs_started+=($!)
done

failed=0
for i in "${!consumers[@]}"; do
  name=${consumers[$i]}
  status=0
  wait "${jobs_started[$i]}" || status=$?
  jobs_started[$i]='' # reaped: its group id may be reused, so cleanup must not kill it
  if [ "$status" = 0 ]; then
    grep -E '^(consumer .*: (ok|npx )|README snippets: )' "$work/$name.log"
  else
    failed=1
    echo "--- $name failed; its log:" >&2
    cat "$work/$name.log" >&2
  fi
done
[ "$failed" = 0 ] || fail 'a consumer failed (log above)'

echo "--- package check: ok in $((SECONDS - started))s on Node $(node --version)"
echo "tarball: $(basename "$tarball"), $tar_files files, ${tar_kb} KiB: ${tar_top% }"
grep -h '^summary: ' "$work"/*.log | sed 's/^summary: /  /'
