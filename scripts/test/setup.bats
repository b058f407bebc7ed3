#!/usr/bin/env bats
# scripts/setup.sh against the fake gcloud.

load test-helper

# One real first run, shared: later tests start from its end state.
setup_file() {
  export BATS_TEST_TMPDIR=$BATS_FILE_TMPDIR/first
  mkdir -p "$BATS_TEST_TMPDIR"
  use_fake_cloud
  # shellcheck disable=SC2016 # the placeholder is literal text in the env file
  printf 'WEBHOOK_TOKEN=${SECRET_PARTNER_TOKEN}\n' >"$TP_ROOT/.env"
  tp setup.sh >"$BATS_FILE_TMPDIR/first-output" 2>&1
  cp "$FAKE_LOG" "$BATS_FILE_TMPDIR/first-calls.log"
}

setup() {
  use_fake_cloud
  FIRST_STATE=$BATS_FILE_TMPDIR/first/state
  FIRST_LOG=$BATS_FILE_TMPDIR/first-calls.log
}

first_calls() { grep -E -- "$1" "$FIRST_LOG" || true; }
policy() { cat "$FIRST_STATE/policy/$1"; }

# Completeness

@test "a first setup enables every API in one call and creates the Firestore database" {
  [ "$(first_calls '^gcloud services enable' | wc -l)" -eq 1 ]
  for api in cloudfunctions run cloudbuild artifactregistry cloudtasks cloudscheduler firestore \
    secretmanager iam identitytoolkit logging monitoring bigquery aiplatform firebasehosting; do
    [ -f "$FIRST_STATE/api/$api.googleapis.com" ]
  done
  [[ $(first_calls 'firestore databases create') == *"--database=\(default\) --location=europe-west1 --type=firestore-native"* ]]
}

@test "a first setup creates both queues with their retry settings" {
  [[ $(first_calls 'tasks queues create provision') == *"--max-attempts=20 --min-backoff=1s --max-backoff=300s"* ]]
  [[ $(first_calls 'tasks queues create mail') == *"--max-attempts=100 --min-backoff=10s --max-backoff=3600s"* ]]
}

@test "a first setup creates the TTL policies, the tenants index and the scheduler job, and no shared image repository" {
  [ -f "$FIRST_STATE/ttl/rateLimits.expiresAt" ]
  [ -f "$FIRST_STATE/ttl/webhookEvents.expiresAt" ]
  [ -f "$FIRST_STATE/ttl/outbox.expiresAt" ]
  [ -f "$FIRST_STATE/ttl/confirmations.expireAt" ]
  grep -q $'^tenants\tCOLLECTION\townerId;createdAt;__name__\tASCENDING;DESCENDING' "$FIRST_STATE"/index/*
  # Each tenant gets its own repository when it is provisioned; none is shared.
  [ -z "$(first_calls 'artifacts repositories create')" ]
  job=$(first_calls 'scheduler jobs create http tp-billing-aggregate')
  [[ $job == *"--schedule=0\\ 2\\ \\*\\ \\*\\ \\*"* ]]
  [[ $job == *"--time-zone=Etc/UTC --uri=https://europe-west1-test-project.cloudfunctions.net/billing-aggregate --http-method=POST --message-body=\\{\\}"* ]]
  [[ $job == *"--oidc-service-account-email=tp-tasks@test-project.iam.gserviceaccount.com"* ]]
  # Scheduled calls carry the task secret, as the functions require: from a
  # flags file, never on the command line, and gcloud is told to print nothing.
  [[ $job == *"--flags-file="* && $job == *"--format=none"* && $job != *"x-tenantplane-task-secret"* ]]
  grep -q "^gcloud scheduler jobs create http tp-billing-aggregate .*" "$FIRST_LOG"
  grep -A1 "^gcloud scheduler jobs create http tp-billing-aggregate " "$FIRST_LOG" | grep -q '^flags-file: --headers=Content-Type=application/json\\,x-tenantplane-task-secret='
  # A failed night is retried 3 times, 10 min apart doubling; the minute sweeps within the minute.
  [[ $job == *"--max-retry-attempts=3 --min-backoff=600s --max-backoff=3600s --max-doublings=2"* ]]
  sweep=$(first_calls 'scheduler jobs create http tp-mail-sweep')
  [[ $sweep == *"--uri=https://europe-west1-test-project.cloudfunctions.net/mail/tasks/mail-sweep"* ]]
  [[ $sweep == *"--max-retry-attempts=3 --min-backoff=5s --max-backoff=20s --max-doublings=2"* ]]
}

@test "a first setup turns on the audit trail's TTL and creates every index firestore.indexes.json declares, once" {
  [ -f "$FIRST_STATE/ttl/audit.expireAt" ]
  [[ $(first_calls 'firestore fields ttls update expireAt') == *"--collection-group=audit --enable-ttl"* ]]
  declared=$(node -e 'console.log(require(process.argv[1]).indexes.length)' "$BATS_TEST_DIRNAME/../../firestore.indexes.json")
  [ "$declared" -ge 20 ]
  [ "$(first_calls 'firestore indexes composite create' | wc -l)" -eq "$declared" ]
  [ "$(cat "$FIRST_STATE"/index/* | sort -u | wc -l)" -eq "$declared" ]
  grep -q $'^tenants\tCOLLECTION\tstate;createdAt;__name__\tASCENDING;DESCENDING' "$FIRST_STATE"/index/*
  grep -q $'^users\tCOLLECTION\trole;emailLower;__name__\tASCENDING;ASCENDING' "$FIRST_STATE"/index/*
  grep -q $'^audit\tCOLLECTION\tactorId;id;__name__\tASCENDING;DESCENDING' "$FIRST_STATE"/index/*
  grep -q $'^environments\tCOLLECTION_GROUP\tstatus;updatedAt;__name__\tASCENDING;DESCENDING' "$FIRST_STATE"/index/*
}

@test "setup never prints the task secret, and a job an older setup made without retries gets them" {
  secret=$(cat "$FIRST_STATE/secret-value-tp-tasks-secret")
  [ -n "$secret" ]
  [[ $(cat "$BATS_FILE_TMPDIR/first-output") != *"$secret"* ]]
  cp -r "$FIRST_STATE/." "$FAKE_STATE/"
  cp "$BATS_FILE_TMPDIR/first/root/.env" "$TP_ROOT/.env"
  sed -i 's/^retryCount: .*/retryCount: 0/' "$FAKE_STATE/job/tp-billing-aggregate"
  run tp setup.sh
  [ "$status" -eq 0 ]
  [[ $output == *"scheduler job tp-billing-aggregate: retries set to 3 (backoff 600s..3600s; it had 0)"* ]]
  [[ $output == *"scheduler job tp-mail-sweep: already exists"* ]]
  [ "$(calls '^gcloud scheduler jobs update http tp-billing-aggregate .*--max-retry-attempts=3 .*--format=none' | wc -l)" -eq 1 ]
  [ -z "$(calls ' (create|enable|add-iam-policy-binding|add) ')" ]
  [[ $output != *"$secret"* ]]
}

@test "a first setup creates the three service accounts and every secret with a first version and the platform label" {
  for sa in tp-functions tp-provisioner tp-tasks; do [ -f "$FIRST_STATE/sa/$sa@test-project.iam.gserviceaccount.com" ]; done
  for secret in tp-tasks-secret tp-secrets-key tp-sendgrid-api-key tp-stripe-secret-key \
    tp-stripe-webhook-secret tp-paddle-api-key tp-paddle-webhook-secret; do
    grep -q 'tenantplane=platform' "$FIRST_STATE/secret/$secret"
    [ -s "$FIRST_STATE/secret-value-$secret" ]
  done
  [ "$(cat "$FIRST_STATE/secret-value-tp-stripe-secret-key")" = REPLACE_ME ]
  # internal keys are random: 32 bytes, base64
  [ "$(base64 -d <"$FIRST_STATE/secret-value-tp-secrets-key" | wc -c)" -eq 32 ]
}

@test "a first setup grants every role binding, on the resource wherever IAM allows it" {
  fns=serviceAccount:tp-functions@test-project.iam.gserviceaccount.com
  prov=serviceAccount:tp-provisioner@test-project.iam.gserviceaccount.com
  for line in "roles/datastore.user,$fns," "roles/datastore.user,$prov," "roles/firebaseauth.admin,$fns," \
    "roles/secretmanager.admin,$prov," "roles/run.admin,$prov," "roles/secretmanager.secretAccessor,$fns,tp-tenant-secrets" \
    "roles/iam.serviceAccountAdmin,$prov," "roles/artifactregistry.admin,$prov,"; do
    policy project-test-project | grep -qxF "$line"
  done
  for q in provision mail; do
    policy "queue-$q" | grep -qxF "roles/cloudtasks.enqueuer,$fns,"
    policy "queue-$q" | grep -qxF "roles/cloudtasks.enqueuer,$prov,"
  done
  for secret in tp-tasks-secret tp-secrets-key tp-sendgrid-api-key tp-stripe-secret-key \
    tp-stripe-webhook-secret tp-paddle-api-key tp-paddle-webhook-secret; do
    policy "secret-$secret" | grep -qxF "roles/secretmanager.secretAccessor,$fns,"
  done
  policy sa-tp-tasks@test-project.iam.gserviceaccount.com | grep -qxF "roles/iam.serviceAccountUser,$fns,"
  policy sa-tp-tasks@test-project.iam.gserviceaccount.com | grep -qxF "roles/iam.serviceAccountUser,$prov,"
  # no project-wide enqueuer, unconditional accessor, actAs, token creation or image access; no basic roles
  [ -z "$(policy project-test-project | grep -E 'cloudtasks.enqueuer|serviceAccountUser|serviceAccountTokenCreator|artifactregistry.(reader|writer)|secretAccessor,[^,]*,$|roles/(owner|editor|viewer),')" ]
  # the functions get nothing for tenant identities project-wide: their grants are per tenant account and repository
  [ -z "$(policy project-test-project | grep -E "^roles/(iam|artifactregistry)\.[^,]*,$fns,")" ]
  [[ $(first_calls 'add-iam-policy-binding test-project .*secretAccessor') == *'resource.name.startsWith'*'projects/123456789012/secrets/tp-tenant-'* ]]
}

# Idempotency

@test "a second setup creates, enables and grants nothing and says already exists, in plain text off a terminal" {
  cp -r "$FIRST_STATE/." "$FAKE_STATE/"
  cp "$BATS_FILE_TMPDIR/first/root/.env" "$TP_ROOT/.env"
  run tp setup.sh
  [ "$status" -eq 0 ]
  [ -z "$(calls ' (create|enable|add-iam-policy-binding|update|add) ')" ]
  [[ $output == *"[skip] queue provision: already exists"* ]]
  [[ $output == *"scheduler job tp-billing-aggregate: already exists"* ]]
  [[ $output == *"secret tp-stripe-secret-key: already exists"* ]]
  [[ $output != *$'\033'* ]]
}

@test "a first setup turns on Firestore point-in-time recovery and a daily backup kept 7 days" {
  [ "$(first_calls 'firestore databases update .*--enable-pitr' | wc -l)" -eq 1 ]
  grep -qx 'pointInTimeRecoveryEnablement: POINT_IN_TIME_RECOVERY_ENABLED' "$FIRST_STATE/firestore/default"
  [[ $(first_calls 'firestore backups schedules create') == *"--database=\(default\) --recurrence=daily --retention=7d"* ]]
  [ "$(cat "$FIRST_STATE"/backupschedule/*)" = $'sched0\t604800s\t' ]
  [[ $(cat "$BATS_FILE_TMPDIR/first-output") == *"point-in-time recovery on"*"daily Firestore backup scheduled, kept 7 days"* ]]
}

@test "a second setup leaves recovery as it is; a daily backup kept another time is set to 7 days, a weekly one does not count" {
  cp -r "$FIRST_STATE/." "$FAKE_STATE/"
  cp "$BATS_FILE_TMPDIR/first/root/.env" "$TP_ROOT/.env"
  run tp setup.sh
  [ "$status" -eq 0 ]
  [[ $output == *"point-in-time recovery: already on"* ]]
  [[ $output == *"daily Firestore backup kept 7 days: already scheduled"* ]]
  [ -z "$(calls 'firestore (databases update|backups schedules (create|update))')" ]
  # An operator changed the daily retention and added a weekly schedule: only the daily one is corrected.
  printf 'sched0\t1209600s\t\n' >"$FAKE_STATE/backupschedule/sched0"
  printf 'sched1\t2419200s\tMONDAY\n' >"$FAKE_STATE/backupschedule/sched1"
  : >"$FAKE_LOG"
  run tp setup.sh
  [ "$status" -eq 0 ]
  [[ $output == *"daily Firestore backup now kept 7 days (it was 1209600s)"* ]]
  [[ $(calls 'firestore backups schedules update') == *"--backup-schedule=sched0 --retention=7d"* ]]
  [ -z "$(calls 'firestore backups schedules create')" ]
  [ "$(cat "$FAKE_STATE/backupschedule/sched1")" = $'sched1\t2419200s\tMONDAY' ]
  # With no daily schedule left (only the weekly one), a daily one is created.
  rm "$FAKE_STATE/backupschedule/sched0"
  : >"$FAKE_LOG"
  run tp setup.sh
  [ "$status" -eq 0 ]
  [ "$(calls 'firestore backups schedules create' | wc -l)" -eq 1 ]
}

# Environment and output

@test "setup names a missing GCP_PROJECT_ID in one line, exits 2 and calls no gcloud" {
  unset GCP_PROJECT_ID
  run tp setup.sh
  [ "$status" -eq 2 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ $output == *GCP_PROJECT_ID* ]]
  [ ! -s "$FAKE_LOG" ]
}

@test "a secret an env file names as \${SECRET_*} gets a placeholder and an accessor grant" {
  [ -f "$FIRST_STATE/secret/tp-partner-token" ]
  grep -q 'roles/secretmanager.secretAccessor,serviceAccount:tp-functions' "$FIRST_STATE/policy/secret-tp-partner-token"
}

# Failures

@test "a failing create stops setup with a non-zero exit naming the step and the command" {
  export FAKE_GCLOUD_FAIL="tasks queues create mail"
  run tp setup.sh
  [ "$status" -ne 0 ]
  [[ $output == *"create queue mail failed"* ]]
  [[ $output == *"(step: Cloud Tasks queues)"* ]]
  [ -z "$(calls 'iam service-accounts create')" ]
}

@test "a describe that fails for another reason than not found stops setup instead of creating" {
  export FAKE_GCLOUD_FAIL="tasks queues describe provision"
  run tp setup.sh
  [ "$status" -ne 0 ]
  [[ $output == *"could not check whether queue provision exists"*PERMISSION_DENIED* ]]
  [ -z "$(calls 'tasks queues create')" ]
}

@test "a shared tenant service account from an old configuration is named as unused and granted nothing" {
  printf 'TENANT_SERVICE_ACCOUNT=shared-runtime@test-project.iam.gserviceaccount.com\n' >>"$TP_ROOT/.env"
  run tp setup.sh
  [ "$status" -eq 0 ]
  [[ $output == *"TENANT_SERVICE_ACCOUNT / CLOUD_RUN_SERVICE_ACCOUNT are no longer used"* ]]
  [ -z "$(calls 'shared-runtime@')" ]
}
