#!/usr/bin/env bats
# cloudbuild.yaml: the pipeline installs, tests, builds and deploys, in order.

load test-helper

@test "cloudbuild runs npm ci, npm test, npm run build, then deploy.sh --skip-build with project and region" {
  cd "$SCRIPTS_DIR/.."
  run node --input-type=module -e '
    import { readFileSync } from "node:fs";
    import { parse } from "yaml";
    const b = parse(readFileSync("cloudbuild.yaml", "utf8"));
    for (const s of b.steps) console.log(`${s.id}: ${[s.entrypoint, ...(s.args ?? [])].join(" ").replace(/\n/g, " ")} | ${(s.env ?? []).join(" ")}`);
    console.log("subs:", Object.keys(b.substitutions).join(" "));'
  [ "$status" -eq 0 ]
  [[ ${lines[0]} == "install: "*"npm ci"* ]]
  [[ ${lines[1]} == "test: "*"npm test"* ]]
  [[ ${lines[2]} == "build: npm run build |"* ]]
  [[ ${lines[3]} == "deploy: "*"scripts/deploy.sh --skip-build"*"GCP_PROJECT_ID=\${_GCP_PROJECT_ID} GCP_REGION=\${_GCP_REGION}"* ]]
  [[ ${lines[4]} == "subs: _GCP_PROJECT_ID _GCP_REGION"* ]]
}
