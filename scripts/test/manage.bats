#!/usr/bin/env bats
# scripts/manage.sh against the fake gcloud.

load test-helper

setup() {
  use_fake_cloud
  seed_platform
  mkdir -p "$FAKE_STATE/function"
  echo https://api-abc123-ew.a.run.app >"$FAKE_STATE/function/api"
  echo 3 >"$FAKE_STATE/tasks-provision"
}

@test "status shows functions, each queue with its state and waiting tasks, and the scheduler job" {
  run tp manage.sh status
  [ "$status" -eq 0 ]
  [[ $output == *"api  ACTIVE  https://api-abc123-ew.a.run.app"* ]]
  [[ $output =~ provision\ +RUNNING\ +3 ]]
  [[ $output =~ mail\ +RUNNING\ +0 ]]
  [ -n "$(calls '^gcloud functions list --regions=europe-west1 --filter=labels.tenantplane=platform')" ]
  [ -n "$(calls '^gcloud scheduler jobs describe tp-billing-aggregate .*--format=table')" ]
}

@test "status says which queue and job are missing instead of failing" {
  rm "$FAKE_STATE/queue/mail" "$FAKE_STATE/job/tp-billing-aggregate"
  run tp manage.sh status
  [ "$status" -eq 0 ]
  [[ $output =~ mail\ +missing ]]
  [[ $output == *"scheduler job tp-billing-aggregate does not exist: run scripts/setup.sh"* ]]
}

@test "urls lists every function, deployed or not, and the public site" {
  export PUBLIC_URL=https://tp.example.com
  run tp manage.sh urls
  [ "$status" -eq 0 ]
  [[ $output =~ api\ +https://api-abc123-ew.a.run.app ]]
  [[ $output =~ chat\ +\(not\ deployed\) ]]
  [[ $output =~ public\ +https://tp.example.com ]]
}

@test "logs reads one function's logs with the given limit" {
  run tp manage.sh logs api --limit 5
  [ "$status" -eq 0 ]
  [ -n "$(calls '^gcloud functions logs read api --gen2 --region=europe-west1 --limit=5 ')" ]
}

@test "logs rejects an unknown function and a bad limit with exit 2" {
  run tp manage.sh logs nope
  [ "$status" -eq 2 ]
  [[ $output == *"unknown function 'nope'"* ]]
  run tp manage.sh logs api --limit ten
  [ "$status" -eq 2 ]
  [[ $output == *"--limit must be a positive whole number"* ]]
  [ ! -s "$FAKE_LOG" ]
}

@test "an unknown command prints the usage and exits 2; help exits 0" {
  run tp manage.sh frobnicate
  [ "$status" -eq 2 ]
  [[ $output == *"Usage: scripts/manage.sh <command>"* ]]
  [[ $output == *"unknown command 'frobnicate'"* ]]
  run tp manage.sh help
  [ "$status" -eq 0 ]
  [[ $output == *"logs <fn> [--limit N]"* ]]
}

@test "a missing GCP_REGION is named, exit 2" {
  unset GCP_REGION
  run tp manage.sh status
  [ "$status" -eq 2 ]
  [[ $output == *"missing required variable(s): GCP_REGION"* ]]
}
