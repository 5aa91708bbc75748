# Shared by every bats file: the one way to skip. A test the host cannot run
# is skipped on a developer's machine; under BERTH_TEST_MUST_WORK=1 (CI sets
# it) it fails instead, so nothing is skipped where everything must work.

must_work() { [ "${BERTH_TEST_MUST_WORK:-0}" = 1 ]; }

# fail_or_skip REASON...
fail_or_skip() {
  if must_work; then
    echo "required feature missing: $*" >&2
    return 1
  fi
  skip "$*"
}
