#!/usr/bin/env bash
# Checks the package as users receive it, not the source tree: build, `npm pack`, then install the
# tarball into fresh consumer apps (NestJS 12 ESM, NestJS 11 CommonJS through require(esm)), compile
# them with their own tsc against the shipped .d.ts and boot them. Run: npm run test:pack
set -euo pipefail
cd "$(dirname "$0")/../.."

here=test/package
consumers=(consumer-nest12-esm consumer-nest11-cjs)
npm_install=(npm install --prefer-offline --no-audit --no-fund --loglevel=error)
started=$SECONDS

# Under /tmp, outside the project: a consumer must not resolve anything from the repo's node_modules.
work=$(mktemp -d)
jobs_started=()
cleanup() {
  # Only the process groups this script started (set -m below gives each job its own group).
  for pid in "${jobs_started[@]}"; do [ -z "$pid" ] || kill -- "-$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
set -m

fail() {
  echo "check.sh: FAIL: $*" >&2
  exit 1
}

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
for f in dist/index.js dist/index.d.ts; do
  grep -qx "package/$f" <<<"$listing" || fail "$f missing from the tarball"
done
if grep -qE '\.spec\.' <<<"$listing"; then fail 'spec files in the tarball'; fi
tar_files=$(wc -l <<<"$listing")
tar_kb=$(($(stat -c %s "$tarball") / 1024))
tar_top=$(sed -E 's#^package/##; s#/.*#/#' <<<"$listing" | sort -u | tr '\n' ' ')

# --- consumers: each in its own folder, installed and checked in parallel ----------------------
consumer() {
  local name=$1 dir="$work/$1" t0=$SECONDS
  cp -R "$here/$name" "$dir"
  mkdir "$dir/src"
  for tpl in "$here"/consumer-src/*.ts.tpl; do cp "$tpl" "$dir/src/$(basename "${tpl%.tpl}")"; done
  cd "$dir"
  "${npm_install[@]}" "$tarball"
  local t1=$SECONDS
  ./node_modules/.bin/tsc -p tsconfig.json
  # skipLibCheck hides a broken .d.ts (an unresolved import becomes any). Check ours with it off; other
  # packages' .d.ts are not ours to fix (posthog-node's need the DOM lib and @types/express).
  local dts_errors
  dts_errors=$({ ./node_modules/.bin/tsc -p tsconfig.json --noEmit --skipLibCheck false --pretty false ||
    true; } |
    awk '/^node_modules\/nestjs-posthog-flags\//{ours = 1; print; next} /^ /{if (ours) print; next} {ours = 0}')
  [ -z "$dts_errors" ] || fail "$name: the package's .d.ts files do not type-check:"$'\n'"$dts_errors"

  # No deep imports: the exports map must hide dist/ while the package name itself resolves.
  node -e "import('nestjs-posthog-flags')" || fail "$name: the package name does not import"
  if node -e "import('nestjs-posthog-flags/dist/index.js')" 2>deep.err; then
    fail "$name: a deep import of dist/index.js succeeded (exports map does not hide internals)"
  fi
  grep -q ERR_PACKAGE_PATH_NOT_EXPORTED deep.err || fail "$name: deep import failed oddly: $(cat deep.err)"
  if [ "$name" = consumer-nest11-cjs ]; then
    # Proves this consumer really goes through require(esm), not a transpiled import().
    grep -q 'require("nestjs-posthog-flags")' dist/app.module.js || fail "$name: output is not CommonJS"
    # Nest 11's starter tsconfig says nodenext (CJS output without "type"): must type-check too.
    ./node_modules/.bin/tsc -p tsconfig.json --noEmit --module nodenext --moduleResolution nodenext
  fi

  timeout 60 node dist/check.js "$name"
  local core ts
  core=$(node -p 'JSON.parse(fs.readFileSync("node_modules/@nestjs/core/package.json")).version')
  ts=$(node -p 'JSON.parse(fs.readFileSync("node_modules/typescript/package.json")).version')
  echo "summary: $name: @nestjs/core $core, typescript $ts; install $((t1 - t0))s, compile+run $((SECONDS - t1))s"
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
    grep -E '^consumer .*: ok$' "$work/$name.log"
  else
    failed=1
    echo "--- $name failed; its log:" >&2
    cat "$work/$name.log" >&2
  fi
done
[ "$failed" = 0 ] || fail 'a consumer failed (log above)'

echo "--- package check: ok in $((SECONDS - started))s"
echo "tarball: $(basename "$tarball"), $tar_files files, ${tar_kb} KiB: ${tar_top% }"
grep -h '^summary: ' "$work"/*.log | sed 's/^summary: /  /'
