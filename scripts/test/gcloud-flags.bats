#!/usr/bin/env bats
# The fake gcloud takes any flag, so the other tests prove the scripts' logic,
# not that gcloud accepts what they write. Here every call the operator
# scripts make is looked up in the installed gcloud's own command tree.

load test-helper

setup() {
  use_fake_cloud
}

check_calls() {
  run python3 "$BATS_TEST_DIRNAME/gcloud-flags.py" "$FAKE_LOG"
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "setup, run twice, calls only commands and flags the installed gcloud has" {
  tp setup.sh >/dev/null 2>&1
  tp setup.sh >/dev/null 2>&1
  # A third run finds a job without retries (an older setup's) and updates it.
  sed -i 's/^retryCount: .*/retryCount: 0/' "$FAKE_STATE/job/tp-billing-aggregate"
  tp setup.sh >/dev/null 2>&1
  [ -n "$(calls '^gcloud scheduler jobs update http ')" ]
  [ -n "$(calls '^gcloud ')" ]
  check_calls
}

@test "deploy and manage call only commands and flags the installed gcloud has" {
  seed_platform
  fake_build
  tp deploy.sh --skip-build >/dev/null 2>&1
  tp manage.sh status >/dev/null 2>&1
  tp manage.sh urls >/dev/null 2>&1
  tp manage.sh logs api --limit 5 >/dev/null 2>&1
  [ -n "$(calls '^gcloud functions deploy')" ]
  check_calls
}

@test "cleanup calls only commands and flags the installed gcloud has" {
  seed_platform
  tp cleanup.sh --yes-delete-all --include-firestore </dev/null >/dev/null 2>&1
  [ -n "$(calls '^gcloud .* delete')" ]
  check_calls
}

@test "the check refuses a misspelled flag, an unknown command and a bare group" {
  printf '%s\n' 'gcloud tasks queues create provision --max-atempts=20' 'gcloud frobnicate it' 'gcloud tasks queues' >"$FAKE_LOG"
  run python3 "$BATS_TEST_DIRNAME/gcloud-flags.py" "$FAKE_LOG"
  [ "$status" -eq 1 ]
  [[ $output == *"gcloud tasks queues create: unknown flag --max-atempts"* ]]
  [[ $output == *"gcloud has no command frobnicate"* ]]
  [[ $output == *"gcloud tasks queues is a command group, not a command"* ]]
}
