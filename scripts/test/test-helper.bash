# shellcheck shell=bash
# Shared by the operator-script tests: a scratch project root, the fakes
# (gcloud, firebase, curl, npm) first on PATH, and a clean environment so
# variables of the machine running the tests cannot leak into a script.

SCRIPTS_DIR="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
FAKES_DIR="$BATS_TEST_DIRNAME/fakes"

# Variables passed through to the scripts; everything else is dropped.
PASSED_VARS=(PATH HOME TMPDIR FAKE_STATE FAKE_LOG FAKE_GCLOUD_FAIL FAKE_GCLOUD_FAIL_FILE
  FAKE_CURL_STATUS FAKE_FIREBASE_FAIL FAKE_NPM_FAIL TP_ROOT TP_RETRY_DELAY TP_HEALTH_DELAY
  TP_HEALTH_ATTEMPTS GCP_PROJECT_ID GCP_REGION PUBLIC_URL NO_COLOR TERM)

use_fake_cloud() {
  export FAKE_STATE="$BATS_TEST_TMPDIR/state" FAKE_LOG="$BATS_TEST_TMPDIR/calls.log"
  export TP_ROOT="$BATS_TEST_TMPDIR/root"
  mkdir -p "$FAKE_STATE" "$TP_ROOT"
  : >"$FAKE_LOG"
  export PATH="$FAKES_DIR:$PATH"
  export GCP_PROJECT_ID=test-project GCP_REGION=europe-west1
  export TP_RETRY_DELAY=0 TP_HEALTH_DELAY=0 TP_HEALTH_ATTEMPTS=2
  unset FAKE_GCLOUD_FAIL FAKE_GCLOUD_FAIL_FILE FAKE_CURL_STATUS FAKE_FIREBASE_FAIL FAKE_NPM_FAIL PUBLIC_URL NO_COLOR TERM
}

# tp SCRIPT ARGS...: runs scripts/SCRIPT in the clean environment.
tp() {
  local vars=() name script=$1
  shift
  for name in "${PASSED_VARS[@]}"; do
    if [[ -n ${!name+x} ]]; then vars+=("$name=${!name}"); fi
  done
  env -i "${vars[@]}" "$SCRIPTS_DIR/$script" "$@"
}

# calls PATTERN: the logged calls matching an extended regex.
calls() { grep -E -- "$1" "$FAKE_LOG" || true; }

# Creates what setup creates, directly in the fake's state (fast).
seed_platform() {
  local s=$FAKE_STATE name
  mkdir -p "$s"/{api,firestore,queue,sa,secret,repo,job,function,run,tenant-run,policy}
  touch "$s/firestore/default" "$s/queue/provision" "$s/queue/mail" "$s/repo/tenants" "$s/job/tp-billing-aggregate"
  for name in tp-functions tp-provisioner tp-tasks; do touch "$s/sa/$name@test-project.iam.gserviceaccount.com"; done
  for name in tp-tasks-secret tp-secrets-key tp-sendgrid-api-key tp-stripe-secret-key \
    tp-stripe-webhook-secret tp-paddle-api-key tp-paddle-webhook-secret; do
    touch "$s/secret/$name"
  done
  printf '%s\n' "roles/datastore.user,serviceAccount:tp-functions@test-project.iam.gserviceaccount.com," \
    "roles/secretmanager.secretAccessor,serviceAccount:tp-functions@test-project.iam.gserviceaccount.com,tp-tenant-secrets" \
    "roles/owner,user:owner@example.com," >"$s/policy/project-test-project"
}

# Puts a bundle for each function where `npm run build` would.
fake_build() {
  local fn
  for fn in signup activate api provision mail billing-aggregate chat; do
    mkdir -p "$TP_ROOT/dist/functions/$fn"
    echo "export {};" >"$TP_ROOT/dist/functions/$fn/index.js"
  done
}
