#!/usr/bin/env bash
# Prepares a Google Cloud project for tenantplane. Every step looks before it
# creates, so running it again creates nothing and says "already exists".
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<'EOF'
Usage: scripts/setup.sh [--help]

Creates, when missing: enabled APIs, the Firestore database with TTL policies,
indexes, point-in-time recovery and a daily backup kept 7 days, Cloud Tasks queues, service accounts with least-privilege roles,
secret placeholders, the nightly scheduler jobs and, with CLOUD_SQL_INSTANCE
set, the backups bucket and the grants tenant data needs on that instance. Each tenant's own
service account and Artifact Registry repository are created by the
provisioner when the tenant is provisioned, not here. Reads GCP_PROJECT_ID and GCP_REGION (required) from the
environment, .env or .env.production.
EOF
}

INDEX_FILE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/firestore.indexes.json"

APIS=(cloudfunctions run cloudbuild artifactregistry cloudtasks cloudscheduler firestore
  secretmanager iam identitytoolkit logging monitoring bigquery aiplatform firebasehosting)

enable_apis() {
  step "Enable APIs"
  local enabled api missing=()
  capture enabled "list enabled APIs" gc services list --enabled --format='value(config.name)'
  for api in "${APIS[@]}"; do
    has_line "$enabled" "$api.googleapis.com" || missing+=("$api.googleapis.com")
  done
  if ((${#missing[@]} == 0)); then
    skip "all ${#APIS[@]} APIs: already enabled"
    return
  fi
  run "enable APIs" gc services enable "${missing[@]}"
  ok "enabled ${missing[*]}"
}

create_firestore() {
  step "Firestore database (default), TTL policies and indexes"
  local location=${FIRESTORE_LOCATION:-$GCP_REGION}
  if exists "Firestore database (default)" gc firestore databases describe --database='(default)'; then
    skip "database (default): already exists"
  else
    run "create the Firestore database" gc firestore databases create --database='(default)' \
      --location="$location" --type=firestore-native
    ok "database (default) created in $location"
  fi

  local ttls pair group field
  capture ttls "list Firestore TTL policies" gc firestore fields ttls list --format='value(name)'
  # Expired rate-limit windows, webhook dedupe records, sent mail, chat confirmations and audit
  # entries past their retention (AUDIT_RETENTION_DAYS, set by the writer) delete themselves.
  for pair in rateLimits:expiresAt webhookEvents:expiresAt outbox:expiresAt taskOutbox:expiresAt confirmations:expireAt audit:expireAt; do
    group=${pair%%:*} field=${pair#*:}
    if grep -q "/collectionGroups/$group/fields/$field\$" <<<"$ttls"; then
      skip "TTL $group.$field: already exists"
    else
      run "enable TTL on $group.$field" gc firestore fields ttls update "$field" \
        --collection-group="$group" --enable-ttl --async
      ok "TTL $group.$field enabled"
    fi
  done

  local indexes specs group scope fields orders args spec fs os i
  # `value(name)` prints only an index's id (the list command's id_field), so the
  # collection group is read as the name's third segment from the end.
  capture indexes "list Firestore composite indexes" gc firestore indexes composite list \
    --format='value(name.segment(-3),queryScope,fields[].fieldPath,fields[].order)'
  # The composite indexes the queries need are declared in firestore.indexes.json
  # (Firebase's format); one line per index: group, scope, fields, orders, label.
  capture specs "read firestore.indexes.json" node -e '
    const { indexes } = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    for (const i of indexes)
      console.log([i.collectionGroup, i.queryScope, i.fields.map((f) => f.fieldPath).join(";"), i.fields.map((f) => f.order).join(";"),
        i.fields.map((f) => f.fieldPath + (f.order === "DESCENDING" ? " DESC" : " ASC")).join(", ")].join("\t"));
  ' "$INDEX_FILE"
  while IFS=$'\t' read -r group scope fields orders label; do
    spec="$group($label)"
    # Firestore appends __name__ to an index's fields, hence the prefix match.
    if awk -F'\t' -v g="$group" -v s="$scope" -v f="$fields" -v o="$orders" '
        function prefix(v, p) { return v == p || substr(v, 1, length(p) + 1) == p ";" }
        $1 == g && $2 == s && prefix($3, f) && prefix($4, o) { found = 1 } END { exit !found }' <<<"$indexes"; then
      skip "index $spec: already exists"
      continue
    fi
    args=()
    IFS=';' read -r -a fs <<<"$fields"
    IFS=';' read -r -a os <<<"$orders"
    for i in "${!fs[@]}"; do args+=("--field-config=field-path=${fs[$i]},order=${os[$i],,}"); done
    scope=${scope,,}
    run "create the index $spec" gc firestore indexes composite create --collection-group="$group" \
      --query-scope="${scope//_/-}" "${args[@]}" --async
    ok "index $spec requested (builds in the background)"
  done <<<"$specs"
  protect_firestore
}

# The platform's own data can be recovered: point-in-time reads of the last 7
# days, and a daily backup kept 7 days (a different retention is corrected).
protect_firestore() {
  local pitr schedules id retention day found=""
  capture pitr "read Firestore point-in-time recovery" gc firestore databases describe --database='(default)' \
    --format='value(pointInTimeRecoveryEnablement)'
  if [[ $pitr == POINT_IN_TIME_RECOVERY_ENABLED ]]; then
    skip "point-in-time recovery: already on"
  else
    run "turn on Firestore point-in-time recovery" gc firestore databases update --database='(default)' --enable-pitr
    ok "point-in-time recovery on (7 days of versions)"
  fi
  capture schedules "list Firestore backup schedules" gc firestore backups schedules list --database='(default)' \
    --format='value(name.basename(),retention,weeklyRecurrence.day)'
  while IFS=$'\t' read -r id retention day; do
    # A daily schedule has no weekly day.
    [[ -n $id && -z $day ]] || continue
    found=$id
    if [[ $retention == 604800s ]]; then
      skip "daily Firestore backup kept 7 days: already scheduled"
    else
      run "set the daily backup's retention to 7 days" gc firestore backups schedules update --database='(default)' \
        --backup-schedule="$id" --retention=7d
      ok "daily Firestore backup now kept 7 days (it was $retention)"
    fi
    break
  done <<<"$schedules"
  if [[ -z $found ]]; then
    run "schedule a daily Firestore backup" gc firestore backups schedules create --database='(default)' \
      --recurrence=daily --retention=7d
    ok "daily Firestore backup scheduled, kept 7 days"
  fi
}

# name max-attempts min-backoff max-backoff
QUEUE_SETTINGS=("provision 20 1s 300s" "mail 100 10s 3600s")

create_queues() {
  step "Cloud Tasks queues"
  local spec name attempts min max
  for spec in "${QUEUE_SETTINGS[@]}"; do
    read -r name attempts min max <<<"$spec"
    if exists "queue $name" gc tasks queues describe "$name" --location="$GCP_REGION"; then
      skip "queue $name: already exists"
      continue
    fi
    run "create queue $name" gc tasks queues create "$name" --location="$GCP_REGION" \
      --max-attempts="$attempts" --min-backoff="$min" --max-backoff="$max"
    ok "queue $name created (max attempts $attempts, backoff $min..$max)"
  done
}

SERVICE_ACCOUNTS=("tp-functions:tenantplane public functions"
  "tp-provisioner:tenantplane provisioning worker"
  "tp-tasks:tenantplane Cloud Tasks and Scheduler caller")

create_service_accounts() {
  step "Service accounts"
  local spec name existing
  capture existing "list service accounts" gc iam service-accounts list --format='value(email)'
  for spec in "${SERVICE_ACCOUNTS[@]}"; do
    name=${spec%%:*}
    if has_line "$existing" "$(sa_email "$name")"; then
      skip "service account $name: already exists"
      continue
    fi
    run "create service account $name" gc iam service-accounts create "$name" --display-name="${spec#*:}"
    ok "service account $name created"
  done
}

# Platform secrets plus any secret an env file names as ${SECRET_*}.
all_secrets() {
  local ref
  printf '%s\n' "${TP_PLATFORM_SECRETS[@]}"
  for ref in "${TP_SECRET_REFS[@]}"; do printf '%s\n' "${ref#*=}"; done
}

add_secret_version() { printf '%s' "$2" | gc secrets versions add "$1" --data-file=-; }

create_secrets() {
  step "Secret placeholders"
  local name value secrets existing
  mapfile -t secrets < <(all_secrets | sort -u)
  capture existing "list secrets" gc secrets list --format='value(name.basename())'
  for name in "${secrets[@]}"; do
    if has_line "$existing" "$name"; then
      skip "secret $name: already exists"
      continue
    fi
    run "create secret $name" gc secrets create "$name" --replication-policy=automatic --labels="$TP_LABEL"
    case $name in
      # Internal keys nobody types in: a random value is the right one.
      tp-tasks-secret | tp-secrets-key) value=$(head -c 32 /dev/urandom | base64) ;;
      *) value=REPLACE_ME ;;
    esac
    run "add the first version of $name" add_secret_version "$name" "$value"
    if [[ $value == REPLACE_ME ]]; then
      ok "secret $name created with a placeholder; set it: printf %s VALUE | gcloud secrets versions add $name --data-file=-"
    else
      ok "secret $name created with a random value"
    fi
  done
}

# grant TARGET ROLE MEMBER [CONDITION_TITLE CONDITION_EXPRESSION]
grant() {
  local target=$1 role=$2 member=$3 title=${4:-} expr=${5:-} cond=()
  if has_binding "$target" "$role" "$member" "$title"; then
    skip "$role for ${member#serviceAccount:} on $target: already granted"
    return
  fi
  iam_target "$target"
  if [[ -n $title ]]; then
    cond=("--condition=expression=$expr,title=$title")
  elif [[ $target == project ]]; then
    # Without this, gcloud refuses in --quiet mode when the policy has conditions.
    cond=(--condition=None)
  fi
  # New service accounts take a few seconds to become visible to IAM.
  run "grant $role to ${member#serviceAccount:} on $target" retry 4 \
    gc "${IAM_GROUP[@]}" add-iam-policy-binding "${IAM_RES[@]}" --member="$member" --role="$role" "${cond[@]}" \
    --format=none
  remember_binding "$target" "$role" "$member" "$title"
  ok "$role granted to ${member#serviceAccount:} on $target"
}

grant_roles() {
  step "IAM roles (least privilege)"
  local fns prov tasks queue secret number secrets
  fns="serviceAccount:$(sa_email tp-functions)"
  prov="serviceAccount:$(sa_email tp-provisioner)"
  tasks=$(sa_email tp-tasks)
  capture number "read the project number" gc projects describe "$GCP_PROJECT_ID" --format='value(projectNumber)'

  # Firestore has no per-collection IAM: project level is the only option.
  grant project roles/datastore.user "$fns"
  grant project roles/datastore.user "$prov"
  # Both enqueue onto both queues (launch -> provision, signup/provision -> mail);
  # granted on each queue, not the project.
  for queue in "${TP_QUEUES[@]}"; do
    grant "queue:$queue" roles/cloudtasks.enqueuer "$fns"
    grant "queue:$queue" roles/cloudtasks.enqueuer "$prov"
  done
  # Functions read platform secrets: granted per secret.
  mapfile -t secrets < <(all_secrets | sort -u)
  for secret in "${secrets[@]}"; do
    grant "secret:$secret" roles/secretmanager.secretAccessor "$fns"
  done
  # Tenant secrets are created later under unknown names; a condition on the
  # name prefix keeps the project-level grant to tenant secrets only.
  grant project roles/secretmanager.secretAccessor "$fns" tp-tenant-secrets \
    "resource.name.startsWith(\"projects/$number/secrets/tp-tenant-\")"
  # Tasks carry an OIDC token for tp-tasks; enqueuing them requires actAs on it.
  grant "sa:$tasks" roles/iam.serviceAccountUser "$fns"
  grant "sa:$tasks" roles/iam.serviceAccountUser "$prov"
  # Firebase Auth users/claims (activation, roles) have no resource-level IAM.
  grant project roles/firebaseauth.admin "$fns"
  # Beyond the brief's list, each needed by a feature with no resource-level IAM:
  # chat calls Gemini on Vertex AI; billing-aggregate runs BigQuery jobs on the
  # billing export; the logs and metrics endpoints read Logging and Monitoring.
  grant project roles/aiplatform.user "$fns"
  grant project roles/bigquery.jobUser "$fns"
  grant project roles/logging.viewer "$fns"
  grant project roles/monitoring.viewer "$fns"

  # The provisioner creates tenant secrets under names unknown in advance, and
  # grants each tenant's account access to its own secrets (secret-level policy).
  grant project roles/secretmanager.admin "$prov"
  # It creates and deletes tenant Cloud Run services, also unknown in advance.
  grant project roles/run.admin "$prov"
  # Each tenant gets its own service account and docker repository, created on
  # provisioning under names unknown in advance. On each account the provisioner
  # grants itself actAs (to deploy services running as it) and the functions
  # token creation (to mint 15-minute registry tokens); on each repository it
  # grants writer to that account alone and reader to the functions (to resolve
  # tags to digests). Those per-resource grants are all the functions need.
  grant project roles/iam.serviceAccountAdmin "$prov"
  grant project roles/artifactregistry.admin "$prov"
  if [[ -n ${TENANT_SERVICE_ACCOUNT:-} || -n ${CLOUD_RUN_SERVICE_ACCOUNT:-} ]]; then
    warn "TENANT_SERVICE_ACCOUNT / CLOUD_RUN_SERVICE_ACCOUNT are no longer used: each tenant runs as its own service account (tp-<tenant id>)"
  fi
  info "tp-tasks gets roles/run.invoker on provision, mail and billing-aggregate when deploy.sh creates them"
}

# Tenant data on Google Cloud (RESOURCES_DRIVER gcp, chosen by CLOUD_SQL_INSTANCE):
# the operator's shared Cloud SQL instance holds every environment's database,
# and each environment gets its own bucket. The provisioner manages databases,
# users, exports and imports on that instance only, and the buckets; the
# platform's backups bucket is made here, and the instance's own service
# account (which writes exports and reads imports) gets object access to it.
prepare_tenant_data() {
  step "Tenant data (Cloud SQL and Cloud Storage)"
  if [[ -z ${CLOUD_SQL_INSTANCE:-} ]]; then
    skip "CLOUD_SQL_INSTANCE is not set: environments get no database or bucket on Google Cloud"
    return
  fi
  local instance=${CLOUD_SQL_INSTANCE##*:} prov fns sql_sa bucket exports lifecycle
  bucket="${BUCKET_PREFIX:-$GCP_PROJECT_ID}-backups"
  exports="${BUCKET_PREFIX:-$GCP_PROJECT_ID}-exports"
  prov="serviceAccount:$(sa_email tp-provisioner)"
  fns="serviceAccount:$(sa_email tp-functions)"
  lookup sql_sa "Cloud SQL instance $instance" gc sql instances describe "$instance" \
    --format='value(serviceAccountEmailAddress)' ||
    fail "Cloud SQL instance $instance (CLOUD_SQL_INSTANCE) does not exist in $GCP_PROJECT_ID: create it first (PostgreSQL, private IP)"
  create_bucket "$bucket"
  # Owners' export archives: the worker writes them, the api streams them to their owner, the lifecycle deletes them.
  lifecycle=$(mktemp "${TMPDIR:-/tmp}/tp-lifecycle.XXXXXX")
  printf '{"rule":[{"action":{"type":"Delete"},"condition":{"age":%s}}]}\n' "${EXPORT_RETENTION_DAYS:-7}" >"$lifecycle"
  create_bucket "$exports" --lifecycle-file="$lifecycle"
  rm -f "$lifecycle"
  # Users, databases, exports and imports need Cloud SQL Admin; the condition keeps it to this instance.
  grant project roles/cloudsql.admin "$prov" tp-tenant-sql \
    "resource.name == \"projects/$GCP_PROJECT_ID/instances/$instance\""
  # Environment buckets are made on provisioning under names unknown in advance, each with its own policy.
  grant project roles/storage.admin "$prov"
  grant "bucket:$bucket" roles/storage.objectAdmin "serviceAccount:$sql_sa"
  # The api function lists an environment's backups and streams export archives.
  grant "bucket:$bucket" roles/storage.objectViewer "$fns"
  grant "bucket:$exports" roles/storage.objectViewer "$fns"
}

# create_bucket NAME [FLAGS...]: a platform bucket (uniform access, no public access) unless it exists.
create_bucket() {
  local name=$1
  shift
  if exists "bucket $name" gc storage buckets describe "gs://$name" --format='value(name)'; then
    skip "bucket $name: already exists"
    return
  fi
  run "create bucket $name" gc storage buckets create "gs://$name" --location="$GCP_REGION" \
    --uniform-bucket-level-access --public-access-prevention "$@"
  ok "bucket $name created (uniform access, no public access)"
}

# Retries of a failed scheduled call: "ATTEMPTS MIN_BACKOFF MAX_BACKOFF", the
# backoff doubling twice. Cloud Scheduler's default is no retry at all (a
# failed run waits for the next one), so every job sets its own. The default
# suits the every-minute sweeps: 5 s, 10 s, 20 s, done before the next run.
SCHEDULER_RETRY="3 5s 20s"

# One Cloud Scheduler job: name, schedule, function, path, description, retry
# (default SCHEDULER_RETRY). An existing job keeps its settings, except that a
# retry count differing from the wanted one is updated.
create_job() {
  local job=$1 schedule=$2 fn=$3 path=$4 description=$5 retry=${6:-$SCHEDULER_RETRY}
  local url secret flags current attempts min max rc=0
  step "Scheduler job $job"
  url=$(function_url "$fn")
  read -r attempts min max <<<"$retry"
  local retry_flags=(--max-retry-attempts="$attempts" --min-backoff="$min" --max-backoff="$max" --max-doublings=2)
  if lookup current "scheduler job $job" gc scheduler jobs describe "$job" --location="$GCP_REGION" \
    --format='value(retryConfig.retryCount)'; then
    if [[ ${current:-0} == "$attempts" ]]; then
      skip "scheduler job $job: already exists"
    else
      # --format=none: gcloud prints the updated job, task secret header included.
      run "update the retries of scheduler job $job" gc scheduler jobs update http "$job" \
        --location="$GCP_REGION" "${retry_flags[@]}" --format=none
      ok "scheduler job $job: retries set to $attempts (backoff $min..$max; it had ${current:-0})"
    fi
    return
  fi
  # The functions accept scheduled calls that carry the task secret, like Cloud
  # Tasks' calls. It goes in a private flags file, never on a command line (ps,
  # failure messages), and --format=none keeps gcloud from printing the job back
  # with the header in it.
  capture secret "read secret tp-tasks-secret" gc secrets versions access latest --secret=tp-tasks-secret
  flags=$(mktemp "${TMPDIR:-/tmp}/tp-job.XXXXXX")
  printf -- "--headers: 'Content-Type=application/json,x-tenantplane-task-secret=%s'\n" "$secret" >"$flags"
  gc scheduler jobs create http "$job" \
    --location="$GCP_REGION" --schedule="$schedule" --time-zone=Etc/UTC --uri="$url$path" \
    --http-method=POST --message-body='{}' --flags-file="$flags" \
    --oidc-service-account-email="$(sa_email tp-tasks)" --oidc-token-audience="$url" \
    "${retry_flags[@]}" --description="$description" --format=none || rc=$?
  rm -f "$flags"
  ((rc == 0)) || fail "create scheduler job $job failed (exit $rc); the task secret was passed in a flags file"
  ok "scheduler job $job created ($schedule -> $url$path, $attempts retries, backoff $min..$max)"
}

create_scheduler_job() {
  # A failed night is retried three times, 10, 20 and 40 minutes later; the
  # aggregation rewrites whole days, so a retry after a partial run is safe.
  create_job "$TP_SCHEDULER_JOB" '0 2 * * *' billing-aggregate '' 'tenantplane nightly cost aggregation' '3 600s 3600s'
  create_job tp-mail-sweep '* * * * *' mail /tasks/mail-sweep 'tenantplane: re-enqueue mail whose task was never created'
  create_job tp-provision-sweep '* * * * *' provision /tasks/provision-sweep 'tenantplane: enqueue tenant operations whose task is missing'
  # Each tenant's backup is its own operation; a retried night starts only those not already running.
  create_job tp-backups-nightly '0 3 * * *' provision /tasks/backups-nightly 'tenantplane: nightly backups of tenant databases' '3 600s 3600s'
}

main() {
  case ${1:-} in
    -h | --help | help) usage; return ;;
    "") ;;
    *) usage >&2; fail "unknown argument '$1'" 2 ;;
  esac
  require_tool gcloud "install the Google Cloud SDK (https://cloud.google.com/sdk/docs/install)"
  load_env
  require_vars GCP_PROJECT_ID GCP_REGION
  printf 'tenantplane setup: project %s, region %s\n' "$GCP_PROJECT_ID" "$GCP_REGION"
  enable_apis
  create_firestore
  create_queues
  create_service_accounts
  create_secrets
  grant_roles
  prepare_tenant_data
  create_scheduler_job
  TP_STEP=""
  printf '\n%sSetup complete.%s Next: set the placeholder secrets, then run scripts/deploy.sh\n' "$C_GREEN$C_BOLD" "$C_RESET"
}

main "$@"
