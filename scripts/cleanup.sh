#!/usr/bin/env bash
# Finds every resource tenantplane created in the project, lists it, and
# deletes it only after an explicit confirmation. Keeps going past failures
# and reports each one at the end.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<'EOF'
Usage: scripts/cleanup.sh [--select | --yes-delete-all] [--include-firestore]

Lists every tenantplane resource (functions, tenant Cloud Run services,
queues, scheduler job, tp-* secrets, tp-* service accounts, the Artifact
Registry repository), then asks:
  type DELETE ALL       delete everything listed
  anything else         delete nothing
  --select              ask y/n for each type instead
  --yes-delete-all      delete everything without asking (CI, scripts)
  --include-firestore   also delete the Firestore (default) database

The Firestore database is kept unless --include-firestore is given: it holds
every user, tenant, event and cost record, deleting it cannot be undone, and
its data is the one thing setup.sh cannot recreate.
EOF
}

MODE=ask INCLUDE_FIRESTORE=""
FAILURES=()

# Resource types in deletion order: what calls a thing goes before the thing.
TYPES=(jobs functions services queues secrets accounts repositories firestore)
declare -A LABEL=([jobs]="scheduler jobs" [functions]="functions" [services]="tenant Cloud Run services"
  [queues]="Cloud Tasks queues" [secrets]="secrets" [accounts]="service accounts"
  [repositories]="Artifact Registry repositories" [firestore]="Firestore databases")
declare -A FOUND=()

parse_args() {
  while (($# > 0)); do
    case $1 in
      --select) [[ $MODE == all ]] && fail "--select and --yes-delete-all exclude each other" 2; MODE=select ;;
      --yes-delete-all) [[ $MODE == select ]] && fail "--select and --yes-delete-all exclude each other" 2; MODE=all ;;
      --include-firestore) INCLUDE_FIRESTORE=1 ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; fail "unknown argument '$1'" 2 ;;
    esac
    shift
  done
}

# find_type TYPE FILTER_REGEX CMD...: FOUND[TYPE] = the lines of CMD matching the regex.
find_type() {
  local type=$1 regex=$2 out
  shift 2
  capture out "list ${LABEL[$type]}" "$@"
  FOUND[$type]=$(grep -E "$regex" <<<"$out" || true)
}

discover() {
  step "Discover tenantplane resources in $GCP_PROJECT_ID ($GCP_REGION)"
  local job_re queue_re
  # Every job setup.sh creates is named tp-* (the nightly aggregation and the sweeps).
  job_re='^tp-'
  queue_re="^($(IFS='|'; printf '%s' "${TP_QUEUES[*]}"))\$"
  # Scheduler jobs and queues take no labels: they are known by name.
  find_type jobs "$job_re" gc scheduler jobs list --location="$GCP_REGION" --format='value(name.basename())'
  find_type functions . gc functions list --regions="$GCP_REGION" \
    --filter="labels.tenantplane=platform" --format='value(name.basename())'
  find_type services . gc run services list --region="$GCP_REGION" \
    --filter="metadata.labels.tenantplane-tenant-id:*" --format='value(metadata.name)'
  find_type queues "$queue_re" gc tasks queues list --location="$GCP_REGION" --format='value(name.basename())'
  find_type secrets '^tp-' gc secrets list --format='value(name.basename())'
  find_type accounts "^tp-[^@]*@$GCP_PROJECT_ID\\.iam\\.gserviceaccount\\.com\$" \
    gc iam service-accounts list --format='value(email)'
  FOUND[repositories]=""
  if exists "repository $TP_REPOSITORY" gc artifacts repositories describe "$TP_REPOSITORY" --location="$GCP_REGION"; then
    FOUND[repositories]=$TP_REPOSITORY
  fi
  FOUND[firestore]=""
  if [[ -n $INCLUDE_FIRESTORE ]] && exists "Firestore database" gc firestore databases describe --database='(default)'; then
    FOUND[firestore]="(default)"
  fi
}

count_of() {
  if [[ -z ${FOUND[$1]} ]]; then echo 0; else grep -c . <<<"${FOUND[$1]}"; fi
}

print_found() {
  local type total=0 n items
  for type in "${TYPES[@]}"; do
    n=$(count_of "$type")
    ((n == 0)) && continue
    total=$((total + n))
    printf '%s%s (%d)%s\n' "$C_BOLD" "${LABEL[$type]}" "$n" "$C_RESET"
    mapfile -t items <<<"${FOUND[$type]}"
    printf '    %s\n' "${items[@]}"
  done
  [[ -z $INCLUDE_FIRESTORE ]] && info "(the Firestore database is kept; --include-firestore deletes it too)"
  TOTAL=$total
}

# attempt DESC CMD...: runs a deletion; a failure is recorded, not fatal.
attempt() {
  local desc=$1 rc=0
  shift
  "$@" || rc=$?
  if ((rc == 0)); then
    ok "$desc"
  else
    FAILURES+=("$desc (exit $rc)")
    warn "failed: $desc (exit $rc); continuing"
  fi
}

# Deleting an account leaves its project bindings behind as "deleted:" members.
remove_project_bindings() {
  local email=$1 lines role title
  if ! lines=$(policy_lines project); then
    FAILURES+=("read the project IAM policy for $email")
    return
  fi
  while IFS=, read -r role _ title; do
    [[ -z $role ]] && continue
    local cond=(--condition=None)
    [[ -n $title ]] && cond=(--all)
    attempt "remove $role from $email" gc projects remove-iam-policy-binding "$GCP_PROJECT_ID" \
      --member="serviceAccount:$email" --role="$role" "${cond[@]}" --format=none
  done < <(awk -F, -v m="serviceAccount:$email" '$2 == m' <<<"$lines")
}

delete_type() {
  local type=$1 name
  step "Delete ${LABEL[$type]}"
  # fd 3, so no command in the loop can swallow the list from stdin
  while IFS= read -r name <&3; do
    [[ -z $name ]] && continue
    case $type in
      jobs) attempt "delete scheduler job $name" gc scheduler jobs delete "$name" --location="$GCP_REGION" ;;
      functions) attempt "delete function $name" gc functions delete "$name" --region="$GCP_REGION" ;;
      services) attempt "delete service $name" gc run services delete "$name" --region="$GCP_REGION" ;;
      queues) attempt "delete queue $name (its name stays reserved for about 7 days)" \
        gc tasks queues delete "$name" --location="$GCP_REGION" ;;
      secrets) attempt "delete secret $name" gc secrets delete "$name" ;;
      accounts)
        remove_project_bindings "$name"
        attempt "delete service account $name" gc iam service-accounts delete "$name" ;;
      repositories) attempt "delete repository $name" gc artifacts repositories delete "$name" --location="$GCP_REGION" ;;
      firestore) attempt "delete Firestore database $name" gc firestore databases delete --database="$name" ;;
    esac
  done 3<<<"${FOUND[$type]}"
}

confirm() { # confirm PROMPT: true for y/yes
  local answer=""
  printf '%s' "$1"
  read -r answer || true
  [[ $answer =~ ^[Yy]([Ee][Ss])?$ ]]
}

main() {
  parse_args "$@"
  require_tool gcloud "install the Google Cloud SDK (https://cloud.google.com/sdk/docs/install)"
  load_env
  require_vars GCP_PROJECT_ID GCP_REGION
  discover
  TOTAL=0
  print_found
  if ((TOTAL == 0)); then
    TP_STEP=""
    ok "nothing to delete"
    return
  fi

  local type chosen=()
  case $MODE in
    all) chosen=("${TYPES[@]}") ;;
    select)
      for type in "${TYPES[@]}"; do
        (($(count_of "$type") == 0)) && continue
        if confirm "Delete $(count_of "$type") ${LABEL[$type]}? [y/N] "; then chosen+=("$type"); fi
      done ;;
    ask)
      local answer=""
      printf 'Type DELETE ALL to delete all %d resources listed above (anything else cancels): ' "$TOTAL"
      read -r answer || true
      [[ $answer == "DELETE ALL" ]] && chosen=("${TYPES[@]}") ;;
  esac
  if ((${#chosen[@]} == 0)); then
    TP_STEP=""
    ok "nothing deleted"
    return
  fi

  for type in "${chosen[@]}"; do
    if [[ -n ${FOUND[$type]} ]]; then delete_type "$type"; fi
  done
  TP_STEP=""
  if ((${#FAILURES[@]} > 0)); then
    printf '\n%s%d deletion(s) failed:%s\n' "$C_RED$C_BOLD" "${#FAILURES[@]}" "$C_RESET" >&2
    printf '  - %s\n' "${FAILURES[@]}" >&2
    exit 1
  fi
  printf '\n%sCleanup complete.%s\n' "$C_GREEN$C_BOLD" "$C_RESET"
}

main "$@"
