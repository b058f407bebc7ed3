#!/usr/bin/env bats
# Lint of every shell file the operator scripts consist of, and the
# installer of the Debian tools the tests need.

load test-helper

@test "every operator script, the library and the fakes pass shellcheck" {
  # Fails rather than skips: CI runs scripts/ensure-tools.sh first.
  if ! command -v shellcheck >/dev/null; then
    echo "shellcheck is not installed: run scripts/ensure-tools.sh (as root) or apt-get install -y shellcheck" >&2
    return 1
  fi
  cd "$SCRIPTS_DIR"
  run shellcheck -x ./*.sh lib/*.sh test/test-helper.bash test/fakes/*
  echo "$output"
  [ "$status" -eq 0 ]
}

# ensure-tools.sh, with PATH narrowed so the tools look missing

narrow_path() {
  NARROW=$BATS_TEST_TMPDIR/bin
  mkdir -p "$NARROW"
  ln -s "$(command -v bash)" "$NARROW/bash"
  printf '#!/bin/sh\necho %s\n' "$1" >"$NARROW/id"
  chmod +x "$NARROW/id"
}

@test "ensure-tools says how to install a missing tool when not root" {
  narrow_path 1000
  run env -i PATH="$NARROW" "$SCRIPTS_DIR/ensure-tools.sh" shellcheck
  [ "$status" -eq 1 ]
  [[ $output == *"missing shellcheck; run as root or: sudo apt-get install -y shellcheck"* ]]
}

@test "ensure-tools as root without apt-get names the packages to install; an unknown tool is exit 2" {
  narrow_path 0
  run env -i PATH="$NARROW" "$SCRIPTS_DIR/ensure-tools.sh" shellcheck chromium
  [ "$status" -eq 1 ]
  [[ $output == *"missing shellcheck chromium and apt-get is not available"* ]]
  run env -i PATH="$NARROW" "$SCRIPTS_DIR/ensure-tools.sh" nmap
  [ "$status" -eq 2 ]
}
