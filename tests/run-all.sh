#!/usr/bin/env bash
# The whole test suite: format, lints, unit/integration tests, then the real-host VM suite.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
cargo build --release --locked --bins
# The README's first command, as a user types it: a plan exits 0, 2 or 3, never 1 or a cargo error.
rc=0
cargo run --release --locked -- plan >/dev/null || rc=$?
case "$rc" in
  0 | 2 | 3) echo "README command \`cargo run --release -- plan\`: exit $rc" ;;
  *)
    echo "README command \`cargo run --release -- plan\` failed with exit $rc" >&2
    exit 1
    ;;
esac
if [[ -x tests/vm/run-suite.sh ]]; then
  tests/vm/run-suite.sh
else
  echo "==== REAL-HOST VM SUITE SKIPPED: tests/vm/run-suite.sh is missing ===="
fi
