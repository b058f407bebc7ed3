#!/usr/bin/env bats
# scripts/cleanup.sh against the fake gcloud: discovery, confirmation,
# deletion that keeps going past failures.

load test-helper

setup() {
  use_fake_cloud
  seed_platform
  echo https://api-abc123-ew.a.run.app >"$FAKE_STATE/function/api"
  echo https://chat-abc123-ew.a.run.app >"$FAKE_STATE/function/chat"
  touch "$FAKE_STATE/tenant-run/tenant-acme-live" "$FAKE_STATE/secret/tp-tenant-acme-db"
  # not ours: must survive
  touch "$FAKE_STATE/secret/other-app-key" "$FAKE_STATE/queue/other-queue" \
    "$FAKE_STATE/sa/builder@test-project.iam.gserviceaccount.com"
}

deletes() { calls '(delete|remove-iam-policy-binding) '; }

# Confirmation

@test "without typing DELETE ALL nothing is deleted, after every resource is listed by type" {
  run tp cleanup.sh <<<"yes"
  [ "$status" -eq 0 ]
  [ -z "$(deletes)" ]
  for text in "scheduler jobs (1)" "functions (2)" "tenant Cloud Run services (1)" "Cloud Tasks queues (2)" \
    "secrets (8)" "service accounts (3)" "Artifact Registry repositories (1)" tenant-acme-live tp-tenant-acme-db \
    "nothing deleted"; do
    [[ $output == *"$text"* ]]
  done
  [[ $output != *other-app-key* && $output != *other-queue* && $output != *builder@* ]]
  run tp cleanup.sh <<<"DELETE all"
  [ -z "$(deletes)" ]
  run tp cleanup.sh </dev/null
  [ "$status" -eq 0 ]
  [ -z "$(deletes)" ]
}

@test "typing DELETE ALL deletes everything discovered, bindings first, and keeps Firestore" {
  run tp cleanup.sh <<<"DELETE ALL"
  [ "$status" -eq 0 ]
  for kind in job function tenant-run queue repo; do
    [ -z "$(ls "$FAKE_STATE/$kind" | grep -v '^other-')" ]
  done
  [ "$(ls "$FAKE_STATE/secret")" = other-app-key ]
  [ "$(ls "$FAKE_STATE/sa")" = builder@test-project.iam.gserviceaccount.com ]
  [ -f "$FAKE_STATE/queue/other-queue" ]
  [ -f "$FAKE_STATE/firestore/default" ]
  [ -z "$(calls 'firestore databases delete')" ]
  # the accounts' project bindings go too; other members' stay
  [ "$(cat "$FAKE_STATE/policy/project-test-project")" = "roles/owner,user:owner@example.com," ]
  [[ $(calls 'remove-iam-policy-binding.*secretAccessor') == *"--all"* ]]
  [[ $output == *"Cleanup complete."* ]]
}

@test "--yes-delete-all with --include-firestore deletes without asking, the database too" {
  run tp cleanup.sh --yes-delete-all --include-firestore </dev/null
  [ "$status" -eq 0 ]
  [ ! -f "$FAKE_STATE/firestore/default" ]
  [ -n "$(calls '^gcloud firestore databases delete --database=')" ]
  [ -z "$(ls "$FAKE_STATE/function")" ]
}

@test "--select asks per type and deletes only the types answered y" {
  # order: scheduler jobs, functions, services, queues, secrets, accounts, repositories
  run tp cleanup.sh --select <<<$'y\nn\nn\nn\nyes\nn\nn'
  [ "$status" -eq 0 ]
  [ ! -f "$FAKE_STATE/job/tp-billing-aggregate" ]
  [ "$(ls "$FAKE_STATE/secret")" = other-app-key ]
  [ -f "$FAKE_STATE/function/api" ]
  [ -f "$FAKE_STATE/queue/provision" ]
  [ -f "$FAKE_STATE/repo/tenants" ]
  [ -z "$(calls 'service-accounts delete')" ]
}

# Failures

@test "a failing deletion does not stop the others; every failure is reported and the exit is non-zero" {
  printf '%s\n' "secrets delete tp-stripe-secret-key" "functions delete chat" >"$BATS_TEST_TMPDIR/fail"
  export FAKE_GCLOUD_FAIL_FILE=$BATS_TEST_TMPDIR/fail
  run tp cleanup.sh --yes-delete-all
  [ "$status" -eq 1 ]
  [[ $output == *"2 deletion(s) failed:"* ]]
  [[ $output == *"- delete secret tp-stripe-secret-key (exit 1)"* ]]
  [[ $output == *"- delete function chat (exit 1)"* ]]
  [ "$(ls "$FAKE_STATE/secret" | sort | tr '\n' ' ')" = "other-app-key tp-stripe-secret-key " ]
  [ ! -f "$FAKE_STATE/repo/tenants" ]
  [ -z "$(ls "$FAKE_STATE/tenant-run")" ]
}

@test "an empty project has nothing to delete; conflicting flags exit 2" {
  rm -rf "${FAKE_STATE:?}"/*
  run tp cleanup.sh
  [ "$status" -eq 0 ]
  [[ $output == *"nothing to delete"* ]]
  run tp cleanup.sh --select --yes-delete-all
  [ "$status" -eq 2 ]
  [[ $output == *"exclude each other"* ]]
}
