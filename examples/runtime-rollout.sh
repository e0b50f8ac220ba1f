#!/usr/bin/env bash
# A runtime update, start to finish, against a Lambkin server on the simulated clock:
#   functions in all three update modes, a patched Python runtime version published,
#   phase 1 (creates and updates take it), phase 2 (the sweep migrates Auto versions, wave by
#   wave), a function that breaks on the new version and is pinned back by its owner, and the
#   rollout status and per-function history along the way; at the end, the Contributor Insights
#   report of INIT_START lines per runtime version shows the transition as a chart.
# The Lambda and CloudWatch API calls are plain HTTPS-style requests signed with SigV4 by curl, exactly what
# an AWS SDK sends; the `lambkin` operator verbs sign theirs with the same development key, found in
# AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY as the AWS CLI would find it. Run from the repository root
# after `make build`:
#   examples/runtime-rollout.sh            (CHART=transition.png also writes the chart as an image;
#                                          STORE=postgres://... runs the server on that store;
#                                          RUNTIMES=DIR: the built runtimes if not build/runtimes)
set -euo pipefail
cd "$(dirname "$0")/.."
LAMBKIN=${LAMBKIN:-build/src/lambkin}
PY=/usr/bin/python3
KEY=AKIALAMBKINDEV000001
SECRET=lambkin-development-secret-key
# Who the operator verbs sign as (not a profile of ~/.aws that may belong to a real AWS account).
export AWS_ACCESS_KEY_ID=$KEY AWS_SECRET_ACCESS_KEY=$SECRET AWS_REGION=us-east-1
unset AWS_SESSION_TOKEN AWS_PROFILE

work=$(mktemp -d)
trap 'kill $server_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
cat > "$work/config.json" <<'JSON'
{
  "regions": {"default_region": "us-east-1", "runtime_management": ["us-east-1", "eu-west-1"],
              "without_runtime_management": ["cn-north-1"]},
  "rollout": {"pacing": {"high": {"regions_per_wave": 1}},
              "gate": {"min_samples": 3, "max_bake_extensions": 1}},
  "execution": {"idle_timeout_ms": 50}
}
JSON
"$LAMBKIN" serve --data "$work/data" --listen 127.0.0.1:0 --clock simulated \
  --config "$work/config.json" ${STORE:+--store "$STORE"} > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  grep -q "listening on" "$work/server.log" 2>/dev/null && break
  sleep 0.1
done
export LAMBKIN_ENDPOINT=$(grep -o 'http://[0-9.]*:[0-9]*' "$work/server.log" | head -1)

step() { printf '\n==> %s\n' "$*"; }
json() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# lambda REGION METHOD PATH [JSON BODY]: a SigV4-signed Lambda API call.
lambda() {
  local region=$1 method=$2 path=$3
  shift 3
  curl -sS --fail-with-body --aws-sigv4 "aws:amz:$region:lambda" --user "$KEY:$SECRET" \
    -X "$method" -H 'Content-Type: application/json' "$LAMBKIN_ENDPOINT$path" "$@"
}
# cloudwatch OPERATION JSON: a SigV4-signed CloudWatch call (AWS JSON 1.0).
cloudwatch() {
  curl -sS --fail-with-body --aws-sigv4 "aws:amz:us-east-1:monitoring" --user "$KEY:$SECRET" \
    -H 'Content-Type: application/x-amz-json-1.0' \
    -H "X-Amz-Target: GraniteServiceVersion20100801.$1" "$LAMBKIN_ENDPOINT/" -d "$2"
}
# A handler that answers with its runtime version, and raises on BREAK_ON.
zip_b64() {
  $PY - "$1" <<'PYCODE'
import base64, io, sys, zipfile
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    z.writestr("app.py", f'''import os
NAME = os.environ["LAMBKIN_RUNTIME_VERSION"]
def handler(event, context):
    if "{sys.argv[1]}" and NAME.endswith("{sys.argv[1]}"):
        raise RuntimeError("needs a fix for " + NAME)
    return NAME
''')
print(base64.b64encode(buf.getvalue()).decode())
PYCODE
}
runtime=$("$LAMBKIN" runtime list --json | json "[v['Runtime'] for v in d['RuntimeVersions'] if v['Runtime'].startswith('python3.')][0]")
family=${runtime/python/python:}
create() {  # create REGION NAME [BREAK_ON]
  lambda "$1" POST /2015-03-31/functions -d "{\"FunctionName\":\"$2\",\"Runtime\":\"$runtime\",
    \"Handler\":\"app.handler\",\"Role\":\"arn:aws:iam::123456789012:role/demo\",
    \"Code\":{\"ZipFile\":\"$(zip_b64 "${3:-}")\"}}" > /dev/null
}
runtime_of() {  # runtime_of REGION NAME [QUALIFIER]
  local arn
  arn=$(lambda "$1" GET "/2015-03-31/functions/$2/configuration?Qualifier=${3:-%24LATEST}" |
        json "d['RuntimeVersionConfig']['RuntimeVersionArn']")
  "$LAMBKIN" runtime list --region "$1" --json |
    json "[v['Name'] for v in d['RuntimeVersions'] if '$arn' in v['Arns'].values()][0]"
}
invoke() {  # invoke REGION NAME
  local out
  out=$(lambda "$1" POST "/2015-03-31/functions/$2/invocations" -d '{}' -D "$work/headers")
  if grep -qi '^x-amz-function-error' "$work/headers"; then echo "$2: ERROR $out"; else echo "$2: $out"; fi
}
# Everyday traffic in us-east-1. The functions are quiet (the config's 50 ms idle timeout), so
# every invocation starts a new execution environment, which logs INIT_START.
quiet=(orders billing legacy)
traffic() {
  for fn in "${quiet[@]}"; do lambda us-east-1 POST "/2015-03-31/functions/$fn/invocations" -d '{}' > /dev/null; done
  lambda us-east-1 POST "/2015-03-31/functions/orders/invocations?Qualifier=1" -d '{}' > /dev/null
  sleep 0.15
}
# advance DURATION TIMES: move the simulated clock on, with traffic after each step.
advance() {
  for _ in $(seq "$2"); do "$LAMBKIN" clock advance "$1" > /dev/null; traffic; done
  "$LAMBKIN" clock show
}
show() {  # show REGION NAME...
  local region=$1
  shift
  for fn in "$@"; do printf '  %-10s %-14s %s\n' "$region" "$fn" "$(runtime_of "$region" "$fn")"; done
}

step "A Contributor Insights rule counts INIT_START lines per runtime version (the Lambda docs' rule)"
rule='{"Schema":{"Name":"CloudWatchLogRule","Version":1},"AggregateOn":"Count","Contribution":{"Filters":[{"Match":"eventType","In":["INIT_START"]}],"Keys":["runtimeVersion","runtimeVersionArn"]},"LogFormat":"CLF","LogGroupNames":["/aws/lambda/*"],"Fields":{"1":"eventType","4":"runtimeVersion","8":"runtimeVersionArn"}}'
cloudwatch PutInsightRule "$($PY -c 'import json,sys; print(json.dumps({"RuleName": "RuntimeVersions", "RuleDefinition": sys.argv[1]}))' "$rule")"
cloudwatch DescribeInsightRules '{}' | json "[(r['Name'], r['State']) for r in d['InsightRules']]"

step "Functions on $family.v1 in all three update modes"
create us-east-1 orders            # Auto (the default)
lambda us-east-1 POST /2015-03-31/functions/orders/versions -d '{}' > /dev/null   # version 1, Auto
create us-east-1 billing           # FunctionUpdate: takes new runtimes only when deployed
lambda us-east-1 PUT /2021-07-20/functions/billing/runtime-management-config \
  -d '{"UpdateRuntimeOn":"FunctionUpdate"}' > /dev/null
create us-east-1 legacy            # Manual: pinned to v1
v1_arn=$("$LAMBKIN" runtime list --json | json "[v['Arns']['x86_64'] for v in d['RuntimeVersions'] if v['Name']=='$family.v1'][0]")
lambda us-east-1 PUT /2021-07-20/functions/legacy/runtime-management-config \
  -d "{\"UpdateRuntimeOn\":\"Manual\",\"RuntimeVersionArn\":\"$v1_arn\"}" > /dev/null
create us-east-1 reports .v2       # Auto, but its code breaks on the next runtime version
create eu-west-1 catalog           # Auto, in the second wave
create cn-north-1 shop             # a region without runtime management controls
invoke us-east-1 reports
show us-east-1 orders billing legacy reports
show eu-west-1 catalog
show cn-north-1 shop
advance 6h 4

step "An operator publishes $family.v2 (severity high: phase 2 after 2 days, 6 h bakes)"
"$LAMBKIN" runtime publish --runtime "$runtime" --version 2 --image "oci:${RUNTIMES:-build/runtimes}/$runtime" \
  --severity high --notes "openssl security fix"
"$LAMBKIN" rollout status --events 3

step "Phase 1 in us-east-1: new and updated functions take v2; the others keep v1"
create us-east-1 signup
lambda us-east-1 PUT /2015-03-31/functions/billing/configuration -d '{"Description":"deploy"}' > /dev/null
show us-east-1 signup billing orders reports
quiet+=(signup)
traffic

step "6 hours later the first wave has baked: eu-west-1 starts phase 1"
advance 6h 1
"$LAMBKIN" rollout status --events 0

step "2 days after publish: phase 2 in us-east-1 sweeps Auto versions in batches"
advance 6h 7
"$LAMBKIN" rollout status --events 4

step "A week later the rollout is complete in every region"
advance 6h 28
"$LAMBKIN" rollout status --events 0
show us-east-1 orders billing legacy reports
printf '  %-10s %-14s %s\n' us-east-1 "orders:1" "$(runtime_of us-east-1 orders 1)"
show eu-west-1 catalog
show cn-north-1 shop

step "reports breaks on v2; its owner pins it back to v1 (Manual), the documented rollback"
invoke us-east-1 reports
lambda us-east-1 PUT /2021-07-20/functions/reports/runtime-management-config \
  -d "{\"UpdateRuntimeOn\":\"Manual\",\"RuntimeVersionArn\":\"$v1_arn\"}" | json "d['UpdateRuntimeOn'], d['RuntimeVersionArn']"
invoke us-east-1 reports

step "Its history: every runtime version change, with time and cause"
"$LAMBKIN" rollout history reports

step "INIT_START of each new execution environment shows the runtime version it ran"
"$LAMBKIN" logs tail reports --since-minutes 20000 | grep INIT_START

step "The transition, as the Contributor Insights rule saw it: $family.v1 falls, v2 rises"
"$LAMBKIN" insights report RuntimeVersions --period 6h --since 10d --width 60 --height 9 \
  ${CHART:+--png "$CHART"}
