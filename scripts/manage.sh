#!/usr/bin/env bash
# Day-to-day view of a deployed tenantplane: status, URLs, function logs.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<EOF
Usage: scripts/manage.sh <command>

Commands:
  status               functions (state, URL, last update), queues (state,
                       waiting tasks) and the nightly scheduler job
  urls                 the URL of every function and of the public site
  logs <fn> [--limit N]  recent log lines of one function (default 50)
                       functions: ${TP_FUNCTIONS[*]}
  help                 this text
EOF
}

# At most this many tasks are counted per queue; more shows as "1000+".
TASK_COUNT_LIMIT=1000

show_status() {
  step "Functions"
  run "list functions" gc functions list --regions="$GCP_REGION" --filter="labels.tenantplane=platform" \
    --format='table(name.basename():label=FUNCTION,state:label=STATE,serviceConfig.uri:label=URL,updateTime:label=UPDATED)'

  step "Queues"
  local queues name state tasks count
  capture queues "list queues" gc tasks queues list --location="$GCP_REGION" --format='value(name.basename(),state)'
  printf '  %-12s %-10s %s\n' QUEUE STATE TASKS
  for name in "${TP_QUEUES[@]}"; do
    state=$(awk -v q="$name" '$1 == q { print $2 }' <<<"$queues")
    if [[ -z $state ]]; then
      printf '  %-12s %-10s %s\n' "$name" missing "-"
      continue
    fi
    # The v2 Queue resource carries no task statistics, so count the tasks.
    capture tasks "list tasks of $name" gc tasks list --queue="$name" --location="$GCP_REGION" \
      --limit=$((TASK_COUNT_LIMIT + 1)) --format='value(name)'
    count=$(grep -c . <<<"$tasks" || true)
    ((count > TASK_COUNT_LIMIT)) && count="$TASK_COUNT_LIMIT+"
    printf '  %-12s %-10s %s\n' "$name" "$state" "$count"
  done

  step "Scheduler job"
  if exists "scheduler job $TP_SCHEDULER_JOB" gc scheduler jobs describe "$TP_SCHEDULER_JOB" --location="$GCP_REGION"; then
    run "describe scheduler job" gc scheduler jobs describe "$TP_SCHEDULER_JOB" --location="$GCP_REGION" \
      --format='table(name.basename():label=JOB,state:label=STATE,schedule:label=SCHEDULE,lastAttemptTime:label=LAST_RUN,status.code:label=LAST_STATUS)'
  else
    warn "scheduler job $TP_SCHEDULER_JOB does not exist: run scripts/setup.sh"
  fi
}

show_urls() {
  step "URLs"
  local lines name uri
  capture lines "list function URLs" gc functions list --regions="$GCP_REGION" \
    --filter="labels.tenantplane=platform" --format='value(name.basename(),serviceConfig.uri)'
  for name in "${TP_FUNCTIONS[@]}"; do
    uri=$(awk -F'\t' -v f="$name" '$1 == f { print $2 }' <<<"$lines")
    info "$(printf '%-18s %s' "$name" "${uri:-(not deployed)}")"
  done
  info "$(printf '%-18s %s' public "${PUBLIC_URL:-https://$GCP_PROJECT_ID.web.app}")"
}

show_logs() {
  local fn=${1:-} limit=50
  [[ -n $fn ]] || { usage >&2; fail "logs needs a function name (one of: ${TP_FUNCTIONS[*]})" 2; }
  is_known_function "$fn" || fail "unknown function '$fn' (one of: ${TP_FUNCTIONS[*]})" 2
  shift
  while (($# > 0)); do
    case $1 in
      --limit) limit=${2:-}; shift ;;
      --limit=*) limit=${1#--limit=} ;;
      *) usage >&2; fail "unknown option '$1' for logs" 2 ;;
    esac
    shift
  done
  [[ $limit =~ ^[1-9][0-9]*$ ]] || fail "--limit must be a positive whole number, got '$limit'" 2
  step "Logs of $fn (last $limit)"
  run "read logs of $fn" gc functions logs read "$fn" --gen2 --region="$GCP_REGION" --limit="$limit"
}

main() {
  local cmd=${1:-help}
  (($# > 0)) && shift
  case $cmd in
    help | -h | --help) usage; return ;;
    status | urls | logs) ;;
    *) usage >&2; fail "unknown command '$cmd'" 2 ;;
  esac
  require_tool gcloud "install the Google Cloud SDK (https://cloud.google.com/sdk/docs/install)"
  load_env
  require_vars GCP_PROJECT_ID GCP_REGION
  case $cmd in
    status) show_status ;;
    urls) show_urls ;;
    logs) show_logs "$@" ;;
  esac
}

main "$@"
