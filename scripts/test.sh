#!/usr/bin/env bash
# Install dependencies, build, and run the whole test suite; then again in an
# address+undefined sanitizer build. BERTH_TEST_SKIP_ASAN=1 skips the second pass.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh

run_suite() { # build-dir [meson options...]
  local dir=$1; shift
  if [ -d "$dir" ]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
  ninja -C "$dir"
  meson test -C "$dir" --print-errorlogs --num-processes 2 --timeout-multiplier 3
}

summary() { # the closing line CI reads: "tests: N passed, N failed, N skipped"
  python3 - "$@" <<'PY'
import json, sys
counts = {"OK": 0, "FAIL": 0, "SKIP": 0}
import os
for log in sys.argv[1:]:
    if not os.path.exists(log):
        continue
    for line in open(log):
        r = json.loads(line).get("result", "")
        key = {"OK": "OK", "EXPECTEDFAIL": "OK", "SKIP": "SKIP"}.get(r, "FAIL")
        counts[key] += 1
print(f"tests: {counts['OK']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped")
PY
}

rm -f build/meson-logs/testlog.json build-asan/meson-logs/testlog.json
logs=()
trap 'summary "${logs[@]}"' EXIT
logs+=(build/meson-logs/testlog.json)
run_suite build
if [ "${BERTH_TEST_SKIP_ASAN:-0}" != 1 ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  logs+=(build-asan/meson-logs/testlog.json)
  run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
fi
