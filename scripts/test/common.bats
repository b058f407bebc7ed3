#!/usr/bin/env bats
# scripts/lib/common.sh: env loading, the run wrapper, colors.

load test-helper

setup() {
  use_fake_cloud
}

# lib CODE: runs CODE in bash with common.sh sourced, in a clean environment
# plus any NAME=value words given before CODE.
lib() {
  local code=${*: -1}
  env -i PATH="$PATH" TP_ROOT="$TP_ROOT" "${@:1:$#-1}" bash -c "set -euo pipefail; source '$SCRIPTS_DIR/lib/common.sh'; $code"
}

# Environment

@test "env files are read literally: quotes, comments and export are handled, nothing is evaluated" {
  cat >"$TP_ROOT/.env" <<'ENV'
# comment
  SPACED=kept  # trailing comment
DOUBLE="a # not a comment"
SINGLE='$(touch /tmp/tp-never-evaluated)'
export EXPORTED=yes
EMPTY=
not a line
ENV
  run lib 'load_env; printf "%s|" "$SPACED" "$DOUBLE" "$SINGLE" "$EXPORTED" "$EMPTY" "${TP_ENV_KEYS[*]}"'
  [ "$status" -eq 0 ]
  [[ $output == *'kept|a # not a comment|$(touch /tmp/tp-never-evaluated)|yes||SPACED DOUBLE SINGLE EXPORTED EMPTY|'* ]]
  [[ $output == *"ignoring line 7 of .env: expected KEY=value"* ]]
  [ ! -e /tmp/tp-never-evaluated ]
}

@test ".env.production overrides .env, the process environment overrides both" {
  printf 'A=env\nB=env\nC=env\n' >"$TP_ROOT/.env"
  printf 'B=production\nC=production\n' >"$TP_ROOT/.env.production"
  run lib C=process 'load_env; echo "$A $B $C"'
  [ "$output" = "env production process" ]
}

@test "\${SECRET_*} placeholders become secret references, whichever file holds them" {
  printf 'SENDGRID_API_KEY=${SECRET_SENDGRID_API_KEY}\nPLAIN=${NOT_A_SECRET}\n' >"$TP_ROOT/.env"
  printf 'WEBHOOK=${SECRET_STRIPE_WEBHOOK_SECRET}\n' >"$TP_ROOT/.env.production"
  run lib 'load_env; printf "%s\n" "${TP_SECRET_REFS[@]}"'
  [ "${lines[0]}" = "SENDGRID_API_KEY=tp-sendgrid-api-key" ]
  [ "${lines[1]}" = "WEBHOOK=tp-stripe-webhook-secret" ]
  [ "${#lines[@]}" -eq 2 ]
}

@test "missing required variables are all named in one line with exit 2, a placeholder counts as missing" {
  run lib GCP_REGION='${SECRET_REGION}' 'require_vars GCP_PROJECT_ID GCP_REGION'
  [ "$status" -eq 2 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ $output == *"missing required variable(s): GCP_PROJECT_ID, GCP_REGION;"* ]]
}

# Running commands

@test "run streams the output and, on failure, exits with the command's code naming step, action and command" {
  run lib 'step "Make things"; run "say hello" echo hello; run "make the widget" bash -c "exit 3"; echo unreachable'
  [ "$status" -eq 3 ]
  [[ $output == *hello* ]]
  [[ $output == *"make the widget failed (exit 3): bash -c exit\\ 3 (step: Make things)"* ]]
  [[ $output != *unreachable* ]]
}

@test "a failing command outside run still names the step" {
  run lib 'step "Count things"; false; echo unreachable'
  [ "$status" -eq 1 ]
  [[ $output == *"command failed (exit 1): false (step: Count things)"* ]]
}

# Output

@test "a terminal gets color, NO_COLOR and a pipe get plain text" {
  command -v script >/dev/null || skip "util-linux script is needed to fake a terminal"
  run script -qec "env -i PATH='$PATH' TERM=xterm bash -c 'source $SCRIPTS_DIR/lib/common.sh; ok done'" /dev/null
  [[ $output == *$'\033[32m'* ]]
  run script -qec "env -i PATH='$PATH' TERM=xterm NO_COLOR=1 bash -c 'source $SCRIPTS_DIR/lib/common.sh; ok done'" /dev/null
  [[ $output == *"[ok] done"* && $output != *$'\033'* ]]
  run lib 'ok done'
  [ "$output" = "  [ok] done" ]
}
