# shellcheck shell=bash
# Shared helpers for the operator scripts (setup, deploy, manage, cleanup).
# Sourced, never executed. Provides: output (step/ok/skip/warn/fail), the
# `run` wrapper that names the failing step, existence checks that tell
# "not found" from "could not ask", env loading from .env files, and the
# required-variables check.

if ((BASH_VERSINFO[0] < 4)); then
  echo "error: bash 4 or newer is required (found $BASH_VERSION); on macOS: brew install bash" >&2
  exit 2
fi

# The repo root; tests point it at a scratch copy holding .env files and dist/.
TP_ROOT=${TP_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TP_STEP=""
# Functions inherit the ERR trap, so a failing command anywhere names the step.
set -o errtrace

# Output -----------------------------------------------------------------

# Color only for a terminal; NO_COLOR (any value) and TERM=dumb force plain
# text so logs and CI output stay greppable.
if [[ -t 1 && -z ${NO_COLOR:-} && ${TERM:-} != dumb ]]; then
  C_RESET=$'\033[0m' C_BOLD=$'\033[1m' C_BLUE=$'\033[34m' C_GREEN=$'\033[32m'
  C_YELLOW=$'\033[33m' C_RED=$'\033[31m' C_DIM=$'\033[2m'
  SYM_OK="✓" SYM_SKIP="↷" SYM_WARN="!" SYM_FAIL="✗" SYM_STEP="==>"
else
  C_RESET="" C_BOLD="" C_BLUE="" C_GREEN="" C_YELLOW="" C_RED="" C_DIM=""
  SYM_OK="[ok]" SYM_SKIP="[skip]" SYM_WARN="[warn]" SYM_FAIL="[FAIL]" SYM_STEP="==>"
fi

# step TEXT: starts a named step; failures report it.
step() {
  TP_STEP="$*"
  printf '%s%s%s %s%s\n' "$C_BOLD$C_BLUE" "$SYM_STEP" "$C_RESET$C_BOLD" "$*" "$C_RESET"
}
ok() { printf '  %s%s%s %s\n' "$C_GREEN" "$SYM_OK" "$C_RESET" "$*"; }
# skip TEXT: something needed no action, e.g. skip "queue provision: already exists".
skip() { printf '  %s%s %s%s\n' "$C_DIM" "$SYM_SKIP" "$*" "$C_RESET"; }
info() { printf '  %s\n' "$*"; }
warn() { printf '  %s%s%s %s\n' "$C_YELLOW" "$SYM_WARN" "$C_RESET" "$*" >&2; }

# fail MESSAGE [EXIT_CODE]: one clear line on stderr, then exit (default 1).
fail() {
  trap - ERR
  local where=""
  [[ -n $TP_STEP ]] && where=" (step: $TP_STEP)"
  printf '%s%s error:%s %s%s\n' "$C_RED$C_BOLD" "$SYM_FAIL" "$C_RESET" "$1" "$where" >&2
  exit "${2:-1}"
}

# A command that fails outside `run` still names the step it broke.
on_unexpected_error() {
  local rc=$1 cmd=$2
  fail "command failed (exit $rc): $cmd" "$rc"
}
trap 'on_unexpected_error $? "$BASH_COMMAND"' ERR

# quote_cmd ARGS...: the command as one shell-quoted line, for messages.
quote_cmd() {
  local out="" arg
  for arg in "$@"; do out+="$(printf '%q' "$arg") "; done
  printf '%s' "${out% }"
}

# Running commands ------------------------------------------------------

# run DESCRIPTION CMD...: runs CMD (its output streams through); on failure
# exits naming the step, the description and the command.
run() {
  local desc=$1 rc=0
  shift
  "$@" || rc=$?
  if ((rc != 0)); then
    fail "$desc failed (exit $rc): $(quote_cmd "$@")" "$rc"
  fi
}

# capture VAR DESCRIPTION CMD...: stores CMD's stdout in VAR; on failure exits
# naming the step (a bare $(...) would lose the exit inside the subshell).
capture() {
  local __var=$1 __desc=$2 __out __rc=0
  shift 2
  __out=$("$@") || __rc=$?
  if ((__rc != 0)); then
    fail "$__desc failed (exit $__rc): $(quote_cmd "$@")" "$__rc"
  fi
  printf -v "$__var" '%s' "$__out"
}

# retry ATTEMPTS CMD...: for calls that race IAM propagation (a service account
# created seconds ago is not yet visible everywhere). Delay doubles each time.
retry() {
  local attempts=$1 n=1 delay=${TP_RETRY_DELAY:-5}
  shift
  until "$@"; do
    ((n >= attempts)) && return 1
    warn "attempt $n of $attempts failed; retrying in ${delay}s"
    sleep "$delay"
    delay=$((delay * 2))
    n=$((n + 1))
  done
}

# exists WHAT CMD...: 0 when CMD (a describe) succeeds, 1 when the answer is
# "not found", and fails for anything else (permission, auth, network), so a
# broken check never turns into a misleading create.
exists() {
  local what=$1 err rc=0
  shift
  err=$("$@" 2>&1 >/dev/null) || rc=$?
  ((rc == 0)) && return 0
  if [[ ${err,,} =~ not[\ _]?found|does\ not\ exist|404 ]]; then return 1; fi
  fail "could not check whether $what exists: ${err:-exit $rc}"
}

# lookup VAR WHAT CMD...: like exists, and on success stores CMD's output (a
# describe with a --format) in VAR: one call both checks and reads.
lookup() {
  local __var=$1 __what=$2 __out __err __file __rc=0
  shift 2
  __file=$(mktemp "${TMPDIR:-/tmp}/tp-err.XXXXXX")
  __out=$("$@" 2>"$__file") || __rc=$?
  __err=$(<"$__file")
  rm -f "$__file"
  if ((__rc == 0)); then
    printf -v "$__var" '%s' "$__out"
    return 0
  fi
  if [[ ${__err,,} =~ not[\ _]?found|does\ not\ exist|404 ]]; then return 1; fi
  fail "could not check whether $__what exists: ${__err:-exit $__rc}"
}

# has_line TEXT LINE: TEXT holds LINE as a whole line (no grep process: the
# scripts check hundreds of names).
has_line() { [[ $'\n'$1$'\n' == *$'\n'"$2"$'\n'* ]]; }

# gc ARGS...: gcloud pinned to the project and never prompting.
gc() { gcloud "$@" --project="$GCP_PROJECT_ID" --quiet; }

# IAM ---------------------------------------------------------------------

# iam_target TARGET: sets IAM_GROUP (gcloud command group) and IAM_RES (the
# resource arguments) for TARGET = project | sa:EMAIL | queue:NAME |
# secret:NAME | repo:NAME | run:SERVICE | bucket:NAME.
iam_target() {
  case $1 in
    project) IAM_GROUP=(projects) IAM_RES=("$GCP_PROJECT_ID") ;;
    sa:*) IAM_GROUP=(iam service-accounts) IAM_RES=("${1#sa:}") ;;
    queue:*) IAM_GROUP=(tasks queues) IAM_RES=("${1#queue:}" "--location=$GCP_REGION") ;;
    secret:*) IAM_GROUP=(secrets) IAM_RES=("${1#secret:}") ;;
    repo:*) IAM_GROUP=(artifacts repositories) IAM_RES=("${1#repo:}" "--location=$GCP_REGION") ;;
    run:*) IAM_GROUP=(run services) IAM_RES=("${1#run:}" "--region=$GCP_REGION") ;;
    bucket:*) IAM_GROUP=(storage buckets) IAM_RES=("gs://${1#bucket:}") ;;
    *) fail "unknown IAM target '$1'" ;;
  esac
}

# policy_lines TARGET: prints "role,member,conditionTitle" per binding member.
policy_lines() {
  iam_target "$1"
  gc "${IAM_GROUP[@]}" get-iam-policy "${IAM_RES[@]}" --flatten='bindings[].members' \
    --format='csv[no-heading](bindings.role,bindings.members,bindings.condition.title)'
}

# Policies read in this run, by target: one read per resource, not per role.
declare -A POLICY_CACHE=()

# has_binding TARGET ROLE MEMBER [CONDITION_TITLE]
has_binding() {
  if [[ -z ${POLICY_CACHE[$1]+x} ]]; then
    local lines
    capture lines "read the IAM policy of $1" policy_lines "$1"
    POLICY_CACHE[$1]=$lines
  fi
  has_line "${POLICY_CACHE[$1]}" "$2,$3,${4:-}"
}

# remember_binding TARGET ROLE MEMBER [CONDITION_TITLE]: after a grant.
remember_binding() { POLICY_CACHE[$1]+=$'\n'"$2,$3,${4:-}"; }

require_tool() {
  command -v "$1" >/dev/null 2>&1 || fail "$1 not found on PATH: $2" 2
}

# Environment -----------------------------------------------------------

# Keys read from the env files, in order of first appearance.
TP_ENV_KEYS=()
# KEY=secret-name pairs for values written as ${SECRET_NAME} placeholders.
TP_SECRET_REFS=()

# secret_name_for PLACEHOLDER_NAME: SECRET_SENDGRID_API_KEY -> tp-sendgrid-api-key
secret_name_for() {
  local name=${1#SECRET_}
  name=${name,,}
  printf 'tp-%s' "${name//_/-}"
}

# is_secret_placeholder VALUE: true for ${SECRET_SOMETHING}
is_secret_placeholder() { [[ $1 =~ ^\$\{SECRET_[A-Za-z0-9_]+\}$ ]]; }

# parse_env_value RAW: strips matching quotes, or an inline " # comment".
parse_env_value() {
  local raw=$1
  if [[ $raw =~ ^\"(.*)\"[[:space:]]*$ || $raw =~ ^\'(.*)\'[[:space:]]*$ ]]; then
    printf '%s' "${BASH_REMATCH[1]}"
    return
  fi
  raw=${raw%%[[:space:]]#*}
  raw=${raw%"${raw##*[![:space:]]}"}
  printf '%s' "$raw"
}

# load_env: reads $TP_ROOT/.env then $TP_ROOT/.env.production (later wins);
# variables already in the process environment win over both. Values are
# taken literally (never evaluated). ${SECRET_*} placeholders are recorded in
# TP_SECRET_REFS and left out of the environment.
load_env() {
  local -A from_process=() seen=()
  local file line key value n
  for file in "$TP_ROOT/.env" "$TP_ROOT/.env.production"; do
    [[ -f $file ]] || continue
    n=0
    while IFS= read -r line || [[ -n $line ]]; do
      n=$((n + 1))
      line=${line#"${line%%[![:space:]]*}"}
      [[ -z $line || $line == \#* ]] && continue
      line=${line#export }
      if [[ ! $line =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then
        warn "ignoring line $n of ${file##*/}: expected KEY=value"
        continue
      fi
      key=${BASH_REMATCH[1]}
      value=$(parse_env_value "${BASH_REMATCH[2]}")
      if [[ -z ${seen[$key]:-} ]]; then
        seen[$key]=1
        TP_ENV_KEYS+=("$key")
        [[ -n ${!key+x} ]] && from_process[$key]=1
      fi
      [[ -n ${from_process[$key]:-} ]] && continue
      printf -v "$key" '%s' "$value"
      export "${key?}"
    done <"$file"
  done
  for key in "${TP_ENV_KEYS[@]}"; do
    if is_secret_placeholder "${!key}"; then
      value=${!key}
      value=${value#\$\{}
      TP_SECRET_REFS+=("$key=$(secret_name_for "${value%\}}")")
    fi
  done
}

# require_vars NAME...: names every missing variable in one line, exit 2.
require_vars() {
  local missing=() name
  for name in "$@"; do
    if [[ -z ${!name:-} ]] || is_secret_placeholder "${!name}"; then missing+=("$name"); fi
  done
  ((${#missing[@]} == 0)) && return 0
  local list
  list=$(printf '%s, ' "${missing[@]}")
  fail "missing required variable(s): ${list%, }; set them in .env, .env.production or the environment (example: GCP_PROJECT_ID=my-project GCP_REGION=europe-west1)" 2
}

# Platform facts shared by the scripts ------------------------------------

# SC2034: these are read by the scripts that source this file.
# shellcheck disable=SC2034
{
  TP_FUNCTIONS=(signup activate api provision mail billing-aggregate chat)
  TP_QUEUES=(provision mail)
  TP_SCHEDULER_JOB=tp-billing-aggregate
  TP_REPOSITORY=tenants
  TP_LABEL=tenantplane=platform
  TP_PLATFORM_SECRETS=(tp-tasks-secret tp-secrets-key tp-sendgrid-api-key tp-stripe-secret-key
    tp-stripe-webhook-secret tp-paddle-api-key tp-paddle-webhook-secret)
}

sa_email() { printf '%s@%s.iam.gserviceaccount.com' "$1" "$GCP_PROJECT_ID"; }

# The cloudfunctions.net address every gen2 function also answers on; known
# before the function exists, so setup can point the scheduler at it.
function_url() { printf 'https://%s-%s.cloudfunctions.net/%s' "$GCP_REGION" "$GCP_PROJECT_ID" "$1"; }

is_known_function() {
  local fn
  for fn in "${TP_FUNCTIONS[@]}"; do [[ $fn == "$1" ]] && return 0; done
  return 1
}
