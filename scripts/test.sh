#!/usr/bin/env bash
# Installs what the build needs, builds, and runs every test suite:
#   1. release build (-Werror), every meson suite (unit, and the privileged
#      suites where present)
#   2. the unit suite again under AddressSanitizer + UndefinedBehaviorSanitizer
#   3. the libFuzzer targets over parse + decide and over the config, each
#      for a bounded time
# The last line is the summary "N passed, N failed, N skipped"; the exit code
# is non-zero if anything failed or did not build.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
CONFIG_FUZZ_SECONDS=${CONFIG_FUZZ_SECONDS:-30}

passed=0 failed=0 skipped=0
note() { printf '\n==> %s\n' "$*"; }
add_counts() {  # add_counts JUNIT_FILE MESON_EXIT_CODE
  local p f s
  read -r p f s < <(python3 scripts/count_tests.py "$1")
  # A crashed binary may leave fewer cases in the log than it failed.
  if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}
finish() {
  echo
  echo "$passed passed, $failed failed, $skipped skipped"
  [ "$failed" -eq 0 ]
  exit $?
}

note "dependencies"
if ! scripts/install-deps.sh; then
  failed=$((failed + 1))
  finish
fi

configure() {  # configure DIR ARGS...: fresh setup, or reconfigure an existing dir
  local dir=$1
  shift
  if [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}

note "release build"
if configure build -Dwerror=true && ninja -C build; then
  note "test suites (release build)"
  meson test -C build --no-rebuild --print-errorlogs
  add_counts build/meson-logs/testlog.junit.xml $?
else
  echo "release build FAILED"
  failed=$((failed + 1))
fi

note "sanitizer build (ASan + UBSan)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
if configure build-asan -Dwerror=true -Dbuildtype=debugoptimized -Db_sanitize=address,undefined \
     -Db_lundef=false -Dbenchmarks=false && ninja -C build-asan tests/unit/unit_tests control/cli/anylbctl; then
  note "unit suite under sanitizers"
  meson test -C build-asan --no-rebuild --print-errorlogs --suite unit
  add_counts build-asan/meson-logs/testlog.junit.xml $?
else
  echo "sanitizer build FAILED"
  failed=$((failed + 1))
fi

fuzz() {  # fuzz TARGET SECONDS SEED_CORPUS [LIBFUZZER FLAGS...]: one bounded run
  local target=$1 seconds=$2 seeds=$3 scratch
  shift 3
  scratch=$(mktemp -d)
  mkdir -p "$scratch/corpus" "$scratch/artifacts"
  if ./build-fuzz/tests/fuzz/"$target" -max_total_time="$seconds" -print_final_stats=1 \
       -artifact_prefix="$scratch/artifacts/" "$@" "$scratch/corpus" "$seeds" \
       >"$scratch/fuzz.log" 2>&1; then
    grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$scratch/fuzz.log" || true
    echo "$target: no crash, no sanitizer report"
    passed=$((passed + 1))
  else
    tail -n 60 "$scratch/fuzz.log"
    mkdir -p "$ROOT/fuzz-artifacts"
    cp "$scratch"/artifacts/* "$ROOT/fuzz-artifacts/" 2>/dev/null || true
    echo "$target: FAILED (reproducers in fuzz-artifacts/)"
    failed=$((failed + 1))
  fi
  rm -rf "$scratch"
}

note "fuzzing parse + decide for ${FUZZ_SECONDS}s, the config for ${CONFIG_FUZZ_SECONDS}s (libFuzzer, ASan + UBSan)"
if CC=clang CXX=clang++ configure build-fuzz -Dfuzzing=true -Dtests=true -Dbenchmarks=false \
     -Db_lundef=false && ninja -C build-fuzz tests/fuzz/fuzz_decide tests/fuzz/fuzz_config; then
  fuzz fuzz_decide "$FUZZ_SECONDS" "$ROOT/tests/fuzz/corpus" -max_len=2048
  fuzz fuzz_config "$CONFIG_FUZZ_SECONDS" "$ROOT/tests/fuzz/config-corpus" -max_len=8192 \
    -timeout=10 -rss_limit_mb=2048 -dict="$ROOT/tests/fuzz/config.dict"
else
  echo "fuzz build FAILED"
  failed=$((failed + 1))
fi

finish
