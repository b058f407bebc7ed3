#!/usr/bin/env bash
# Builds and deploys the tenantplane functions (gen2) and hosting, then checks
# that the platform answers /api/health.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<EOF
Usage: scripts/deploy.sh [--skip-build] [--only fn[,fn...]] [--skip-hosting]

  --skip-build     deploy what is already in dist/functions (CI builds first)
  --only LIST      deploy only these functions: ${TP_FUNCTIONS[*]}
  --skip-hosting   do not run 'firebase deploy --only hosting'

Reads GCP_PROJECT_ID, GCP_REGION (required), PUBLIC_URL and the functions'
settings from the environment, .env and .env.production.
EOF
}

# name service-account public? min-instances max-instances timeout concurrency
# Concurrency "-" keeps the gen2 default of one request per instance. api and
# chat hold streams (events, /messages, chat replies) open for up to
# STREAM_DEADLINE_MS (5 min): one per instance would need an instance per open
# stream, so they take 80 at once, which needs a whole vCPU (--cpu=1). Their
# timeout stays above that deadline, so a stream ends cleanly before Cloud Run cuts it.
FUNCTION_SPECS=(
  "signup tp-functions public 0 10 60s -"
  "activate tp-functions public 0 10 60s -"
  # api keeps one warm instance: it serves every page load and SSE stream.
  "api tp-functions public 1 20 600s 80"
  "provision tp-provisioner private 0 10 540s -"
  "mail tp-functions private 0 5 120s -"
  "billing-aggregate tp-functions private 0 1 540s -"
  "chat tp-functions public 0 10 600s 80"
)

# Secrets every function may need, by variable: always mounted from Secret
# Manager, so a development value in .env can never reach production.
KNOWN_SECRET_VARS=(TASKS_SECRET SECRETS_KEY SENDGRID_API_KEY STRIPE_SECRET_KEY
  STRIPE_WEBHOOK_SECRET PADDLE_API_KEY PADDLE_WEBHOOK_SECRET)

SKIP_BUILD="" SKIP_HOSTING="" ONLY=()

parse_args() {
  local fn
  while (($# > 0)); do
    case $1 in
      --skip-build) SKIP_BUILD=1 ;;
      --skip-hosting) SKIP_HOSTING=1 ;;
      --only)
        (($# > 1)) || { usage >&2; fail "--only needs a list of functions" 2; }
        IFS=, read -r -a ONLY <<<"$2"
        shift ;;
      --only=*) IFS=, read -r -a ONLY <<<"${1#--only=}" ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; fail "unknown argument '$1'" 2 ;;
    esac
    shift
  done
  for fn in "${ONLY[@]}"; do
    is_known_function "$fn" || fail "unknown function '$fn' in --only (known: ${TP_FUNCTIONS[*]})" 2
  done
  ((${#ONLY[@]} > 0)) || ONLY=("${TP_FUNCTIONS[@]}")
}

# yaml_quote VALUE: a single-quoted YAML scalar ('' escapes ').
yaml_quote() { printf "'%s'" "${1//\'/\'\'}"; }

ENV_FILE="" SECRETS_ARG=""

# Writes the functions' env vars to a YAML file for --env-vars-file (no
# escaping trouble with commas) and collects the --set-secrets mounts.
prepare_config() {
  step "Prepare function configuration"
  local key value ref mounts=() handled=" "
  ENV_FILE=$(mktemp "${TMPDIR:-/tmp}/tp-env.XXXXXX")
  trap 'rm -f "$ENV_FILE"' EXIT

  for ref in "${TP_SECRET_REFS[@]}"; do
    mounts+=("${ref%%=*}=${ref#*=}:latest")
    handled+="${ref%%=*} "
  done
  for key in "${KNOWN_SECRET_VARS[@]}"; do
    [[ $handled == *" $key "* ]] && continue
    if [[ -n ${!key:-} ]]; then
      warn "$key has a plain value in the environment or an env file; ignored: production reads secret $(secret_name_for "SECRET_$key")"
    fi
    mounts+=("$key=$(secret_name_for "SECRET_$key"):latest")
    handled+="$key "
  done

  # Values production must have whatever the env files say for development.
  declare -A forced=(
    [TP_ENV]=production
    [FUNCTIONS_URL]=${FUNCTIONS_URL:-$(function_url '{name}')}
    # Where clients open streams: each function's own URL, since Hosting buffers its rewrites.
    [STREAM_URL]=${STREAM_URL:-${FUNCTIONS_URL:-$(function_url '{name}')}}
    [TASKS_SERVICE_ACCOUNT]=${TASKS_SERVICE_ACCOUNT:-$(sa_email tp-tasks)}
    [RUNTIME_DRIVER]=${RUNTIME_DRIVER:-cloud-run}
  )
  [[ -n ${TP_ENV:-} && $TP_ENV != production ]] && warn "TP_ENV=$TP_ENV ignored: deployed functions run with TP_ENV=production"

  local keys=(GCP_PROJECT_ID GCP_REGION "${!forced[@]}")
  [[ -n ${PUBLIC_URL:-} ]] && keys+=(PUBLIC_URL)
  for key in "${TP_ENV_KEYS[@]}"; do
    [[ $handled == *" $key "* ]] && continue
    case $key in
      *_EMULATOR_HOST) warn "$key not deployed: emulators are for local development"; continue ;;
      PORT | K_SERVICE | K_REVISION | K_CONFIGURATION) warn "$key not deployed: reserved by Cloud Run"; continue ;;
    esac
    keys+=("$key")
  done
  for key in "${keys[@]}"; do
    [[ $handled == *" $key "* ]] && continue
    handled+="$key "
    value=${forced[$key]:-${!key:-}}
    [[ -z $value ]] && continue
    if [[ $value == *localhost* || $value == *127.0.0.1* ]]; then
      warn "$key=$value points at this machine; override it in .env.production"
    fi
    printf '%s: %s\n' "$key" "$(yaml_quote "$value")" >>"$ENV_FILE"
  done
  SECRETS_ARG=$(IFS=,; printf '%s' "${mounts[*]}")

  # --set-secrets on a missing secret fails late and vaguely; check first.
  local existing
  capture existing "list secrets" gc secrets list --format='value(name.basename())'
  for ref in "${mounts[@]}"; do
    value=${ref#*=}
    value=${value%:latest}
    has_line "$existing" "$value" ||
      fail "secret $value (for ${ref%%=*}) does not exist: run scripts/setup.sh, or create it with gcloud secrets create $value"
  done
  ok "$(wc -l <"$ENV_FILE") environment variables, ${#mounts[@]} secrets mounted"
  [[ -n ${PUBLIC_URL:-} ]] || warn "PUBLIC_URL is not set: links in mails will point at the local default; set it to the hosting URL (https://$GCP_PROJECT_ID.web.app)"
}

deploy_function() {
  local name=$1 sa=$2 access=$3 min=$4 max=$5 timeout=$6 concurrency=$7 source=$TP_ROOT/dist/functions/$1
  local auth=--allow-unauthenticated scaling=()
  [[ $access == private ]] && auth=--no-allow-unauthenticated
  [[ $concurrency != - ]] && scaling=(--concurrency="$concurrency" --cpu=1)
  [[ -f $source/index.js ]] || fail "$source/index.js not found: run 'npm run build' (or drop --skip-build)"
  step "Deploy function $name"
  run "deploy function $name" gc functions deploy "$name" --gen2 --region="$GCP_REGION" --runtime=nodejs20 \
    --source="$source" --entry-point="$name" --trigger-http "$auth" \
    --service-account="$(sa_email "$sa")" --min-instances="$min" --max-instances="$max" \
    --timeout="$timeout" --memory=512Mi "${scaling[@]}" --env-vars-file="$ENV_FILE" --set-secrets="$SECRETS_ARG" \
    --update-labels="$TP_LABEL"
  ok "$name deployed"
  if [[ $access == private ]]; then
    # Cloud Tasks and Scheduler call private functions as tp-tasks.
    local member
    member="serviceAccount:$(sa_email tp-tasks)"
    if has_binding "run:$name" roles/run.invoker "$member"; then
      skip "roles/run.invoker for tp-tasks on $name: already granted"
    else
      run "grant tp-tasks roles/run.invoker on $name" \
        gc functions add-invoker-policy-binding "$name" --region="$GCP_REGION" --member="$member" --format=none
      ok "tp-tasks may invoke $name"
    fi
  fi
}

deploy_hosting() {
  step "Deploy hosting"
  local fb
  fb=$(command -v firebase || true)
  [[ -z $fb && -x $TP_ROOT/node_modules/.bin/firebase ]] && fb=$TP_ROOT/node_modules/.bin/firebase
  if [[ -z $fb ]]; then
    warn "firebase CLI not found: hosting not deployed (npm ci installs it, or npm i -g firebase-tools)"
  elif [[ ! -f $TP_ROOT/firebase.json ]]; then
    warn "firebase.json not found in $TP_ROOT: hosting not deployed"
  else
    run "deploy hosting" "$fb" deploy --only hosting --project "$GCP_PROJECT_ID" --non-interactive
    ok "hosting deployed"
  fi
}

function_uri() {
  gc functions describe "$1" --region="$GCP_REGION" --format='value(serviceConfig.uri)'
}

check_health() {
  step "Health check"
  local base=${PUBLIC_URL:-} code="" n attempts=${TP_HEALTH_ATTEMPTS:-5}
  [[ -n $base ]] || capture base "read the api URL" function_uri api
  local url=${base%/}/api/health
  for ((n = 1; n <= attempts; n++)); do
    code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 30 "$url" 2>/dev/null) || true
    [[ $code == 200 ]] && break
    ((n < attempts)) && sleep "${TP_HEALTH_DELAY:-5}"
  done
  [[ $code == 200 ]] || fail "GET $url answered ${code:-nothing} after $attempts attempts (expected 200); see: scripts/manage.sh logs api"
  ok "GET $url -> 200"
}

main() {
  parse_args "$@"
  require_tool gcloud "install the Google Cloud SDK (https://cloud.google.com/sdk/docs/install)"
  require_tool curl "install curl"
  load_env
  require_vars GCP_PROJECT_ID GCP_REGION
  # npm and firebase work on the repository root.
  cd "$TP_ROOT"
  printf 'tenantplane deploy: project %s, region %s, functions: %s\n' "$GCP_PROJECT_ID" "$GCP_REGION" "${ONLY[*]}"

  if [[ -n $SKIP_BUILD ]]; then
    step "Build"
    skip "build skipped (--skip-build)"
  else
    step "Build (npm run build)"
    run "npm run build" npm run build
    ok "functions bundled into dist/functions"
  fi
  prepare_config

  local spec name
  for spec in "${FUNCTION_SPECS[@]}"; do
    read -r name _ <<<"$spec"
    [[ " ${ONLY[*]} " == *" $name "* ]] || continue
    # shellcheck disable=SC2086 # the spec is a list of words by design
    deploy_function $spec
  done
  if [[ -n $SKIP_HOSTING ]]; then skip "hosting skipped (--skip-hosting)"; else deploy_hosting; fi

  step "URLs"
  local uri
  for name in "${ONLY[@]}"; do
    capture uri "read the URL of $name" function_uri "$name"
    info "$(printf '%-18s %s' "$name" "$uri")"
  done
  [[ -n ${PUBLIC_URL:-} ]] && info "$(printf '%-18s %s' public "$PUBLIC_URL")"
  info "$(printf '%-18s %s' streams "${STREAM_URL:-${FUNCTIONS_URL:-$(function_url '{name}')}}")"
  check_health
  TP_STEP=""
  printf '\n%sDeploy complete.%s\n' "$C_GREEN$C_BOLD" "$C_RESET"
}

main "$@"
