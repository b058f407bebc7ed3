#!/usr/bin/env bats
# scripts/deploy.sh against the fake gcloud, firebase, curl and npm.

load test-helper

setup() {
  use_fake_cloud
  seed_platform
  fake_build
  echo '{}' >"$TP_ROOT/firebase.json"
}

deploy_call() { calls "^gcloud functions deploy $1 "; }

# A full deploy

@test "deploy builds, deploys every function gen2 with its identity and scaling, then hosting, URLs and health" {
  run tp deploy.sh
  [ "$status" -eq 0 ]
  [ "$(calls '^npm run build$' | wc -l)" -eq 1 ]
  for fn in signup activate api provision mail billing-aggregate chat; do
    c=$(deploy_call "$fn")
    [[ $c == *"--gen2 --region=europe-west1 --runtime=nodejs20 --source=$TP_ROOT/dist/functions/$fn --entry-point=$fn --trigger-http"* ]]
    [[ $c == *"--update-labels=tenantplane=platform"* ]]
    [[ $c == *"--env-vars-file="* && $c == *"--set-secrets="*"TASKS_SECRET=tp-tasks-secret:latest"* ]]
    [[ $output == *"$fn"*"https://$fn-abc123-ew.a.run.app"* ]]
  done
  [[ $(deploy_call api) == *"--allow-unauthenticated --service-account=tp-functions@test-project.iam.gserviceaccount.com --min-instances=1 "* ]]
  [[ $(deploy_call chat) == *"--allow-unauthenticated"*"--min-instances=0 "* ]]
  # The functions that hold streams take many requests at once (which needs a whole vCPU); the others one.
  for fn in api chat; do [[ $(deploy_call "$fn") == *"--timeout=600s --memory=512Mi --concurrency=80 --cpu=1 "* ]]; done
  for fn in signup activate provision mail billing-aggregate; do [[ $(deploy_call "$fn") != *"--concurrency"* ]]; done
  [[ $output == *"streams"*"https://europe-west1-test-project.cloudfunctions.net/{name}"* ]]
  [[ $(deploy_call provision) == *"--no-allow-unauthenticated --service-account=tp-provisioner@test-project.iam.gserviceaccount.com --min-instances=0 "* ]]
  [[ $(deploy_call mail) == *"--no-allow-unauthenticated"* ]]
  [[ $(deploy_call billing-aggregate) == *"--no-allow-unauthenticated"* ]]
  # Cloud Tasks and Scheduler may call exactly the private functions
  [ "$(calls 'add-invoker-policy-binding' | wc -l)" -eq 3 ]
  for fn in provision mail billing-aggregate; do
    grep -qxF "roles/run.invoker,serviceAccount:tp-tasks@test-project.iam.gserviceaccount.com," "$FAKE_STATE/policy/run-$fn"
  done
  [ -n "$(calls '^firebase deploy --only hosting --project test-project')" ]
  [ -n "$(calls '^curl .*https://api-abc123-ew.a.run.app/api/health$')" ]
  [[ $output == *"-> 200"* ]]
}

@test "--only deploys just the named functions, --skip-build skips npm, and the health check uses PUBLIC_URL" {
  export PUBLIC_URL=https://tp.example.com
  run tp deploy.sh --skip-build --only api,mail
  [ "$status" -eq 0 ]
  [ -z "$(calls '^npm')" ]
  [ "$(calls '^gcloud functions deploy' | wc -l)" -eq 2 ]
  [ -n "$(deploy_call api)" ]
  [ -n "$(deploy_call mail)" ]
  [ -n "$(calls '^curl .*https://tp.example.com/api/health$')" ]
}

# Configuration from env files

@test "env files: .env.production beats .env, the process beats both, secrets are mounted, not passed" {
  cat >"$TP_ROOT/.env" <<'ENV'
# local development
MAIL_FROM="tenantplane <dev@example.com>"
LOG_LEVEL=debug
PUBLIC_URL=http://localhost:8080
FIRESTORE_EMULATOR_HOST=127.0.0.1:8081
TASKS_SECRET=dev-tasks-secret
ENV
  cat >"$TP_ROOT/.env.production" <<'ENV'
export LOG_LEVEL=info   # quieter in production
PUBLIC_URL=https://files.example.com
SENDGRID_API_KEY=${SECRET_SENDGRID_API_KEY}
PARTNER_TOKEN=${SECRET_PARTNER_TOKEN}
CORS_ORIGINS='https://a.example.com,https://b.example.com'
ENV
  touch "$FAKE_STATE/secret/tp-partner-token"
  export PUBLIC_URL=https://process.example.com
  run tp deploy.sh --skip-build --only api --skip-hosting
  [ "$status" -eq 0 ]
  env_file=$FAKE_STATE/env-vars-api.yaml
  grep -qxF "MAIL_FROM: 'tenantplane <dev@example.com>'" "$env_file"
  grep -qxF "LOG_LEVEL: 'info'" "$env_file"
  grep -qxF "PUBLIC_URL: 'https://process.example.com'" "$env_file"
  grep -qxF "CORS_ORIGINS: 'https://a.example.com,https://b.example.com'" "$env_file"
  grep -qxF "TP_ENV: 'production'" "$env_file"
  grep -qxF "FUNCTIONS_URL: 'https://europe-west1-test-project.cloudfunctions.net/{name}'" "$env_file"
  # Clients open streams on the functions' own URLs: Hosting buffers its rewrites.
  grep -qxF "STREAM_URL: 'https://europe-west1-test-project.cloudfunctions.net/{name}'" "$env_file"
  grep -qxF "GCP_PROJECT_ID: 'test-project'" "$env_file"
  # placeholders, secrets with development values and emulator hosts never reach production
  [ -z "$(grep -E 'SECRET|SENDGRID|PARTNER|TASKS_SECRET|EMULATOR' "$env_file" || true)" ]
  c=$(deploy_call api)
  [[ $c == *"SENDGRID_API_KEY=tp-sendgrid-api-key:latest"* ]]
  [[ $c == *"PARTNER_TOKEN=tp-partner-token:latest"* ]]
  [[ $c == *"TASKS_SECRET=tp-tasks-secret:latest"* ]]
  [[ $output == *"TASKS_SECRET has a plain value"* ]]
  [[ $output == *"FIRESTORE_EMULATOR_HOST not deployed"* ]]
  [[ $output != *"PUBLIC_URL=http://localhost"* ]]
}

# Failures

@test "a development URL that would reach production is warned about" {
  printf 'SMTP_URL=smtp://127.0.0.1:1025\n' >"$TP_ROOT/.env"
  run tp deploy.sh --skip-build --only api --skip-hosting
  [ "$status" -eq 0 ]
  [[ $output == *"SMTP_URL=smtp://127.0.0.1:1025 points at this machine; override it in .env.production"* ]]
}

@test "a health check that does not answer 200 fails clearly" {
  export FAKE_CURL_STATUS=503
  run tp deploy.sh --skip-build --only api --skip-hosting
  [ "$status" -ne 0 ]
  [[ $output == *"api/health answered 503 after 2 attempts (expected 200)"* ]]
  [[ $output == *"(step: Health check)"* ]]
}

@test "a failing build stops deploy naming the step, before anything is deployed" {
  export FAKE_NPM_FAIL=1
  run tp deploy.sh
  [ "$status" -ne 0 ]
  [[ $output == *"npm run build failed"*"(step: Build (npm run build))"* ]]
  [ -z "$(calls '^gcloud functions deploy')" ]
}

@test "a failing function deploy stops with the function named" {
  export FAKE_GCLOUD_FAIL="functions deploy provision"
  run tp deploy.sh --skip-build
  [ "$status" -ne 0 ]
  [[ $output == *"deploy function provision failed"*"(step: Deploy function provision)"* ]]
  [ -z "$(deploy_call mail)" ]
}

@test "a missing secret is named before any function is deployed" {
  rm "$FAKE_STATE/secret/tp-paddle-api-key"
  run tp deploy.sh --skip-build
  [ "$status" -ne 0 ]
  [[ $output == *"secret tp-paddle-api-key (for PADDLE_API_KEY) does not exist: run scripts/setup.sh"* ]]
  [ -z "$(calls '^gcloud functions deploy')" ]
}

@test "an unknown function in --only is named with the valid ones, exit 2" {
  run tp deploy.sh --only api,nope
  [ "$status" -eq 2 ]
  [[ $output == *"unknown function 'nope' in --only (known: signup activate api"* ]]
  [ ! -s "$FAKE_LOG" ]
}
