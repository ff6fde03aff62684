#!/usr/bin/env bash
# Starts LocalStack 4.8.1 without Docker ("host mode") with SQS, S3 and DynamoDB on 127.0.0.1:4566,
# installing it first into a cache outside the repository when needed (≈3 minutes, once).
# Idempotent: when our LocalStack is already up and healthy it returns at once.
#
#   localstack/start.sh          # install if needed, start, wait until healthy
#   localstack/stop.sh           # stop exactly what this script started
#
# Settings: HORIZON_LOCALSTACK_MODE=docker (use docker-compose.yml where a Docker engine exists),
# HORIZON_CACHE_DIR (default ~/.cache/horizon), PYTHON (default python3, must be 3.11;
# LocalStack ≥ 4.10 needs Python ≥ 3.12, 4.8.1 runs on 3.11 with the pins in requirements.lock).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=localstack/env.sh
source "$here/env.sh"

say() { printf '[localstack] %s\n' "$*" >&2; }

healthy() {
  local body
  body=$(curl -fsS --max-time 2 "http://127.0.0.1:${LS_PORT}/_localstack/health" 2>/dev/null) || return 1
  for svc in dynamodb s3 sqs; do
    grep -Eq "\"$svc\": ?\"(available|running)\"" <<<"$body" || return 1
  done
}

ours_running() {
  [ -f "$LS_PIDFILE" ] && kill -0 "$(cat "$LS_PIDFILE")" 2>/dev/null
}

port_taken() {
  # Is anything listening on the port? (bash's /dev/tcp: no extra tools needed)
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

if ours_running && healthy; then
  say "already running (pid $(cat "$LS_PIDFILE")) on 127.0.0.1:${LS_PORT}"
  exit 0
fi
if ! ours_running; then
  for p in "$LS_PORT" "$LS_DYNAMODB_PORT"; do
    if port_taken "$p"; then
      if [ "$p" = "$LS_PORT" ] && healthy; then
        say "a LocalStack not started by this script is already serving 127.0.0.1:${LS_PORT}; using it"
        exit 0
      fi
      say "port $p is taken by another program; stop it or set HORIZON_LOCALSTACK_PORT / HORIZON_DYNAMODB_LOCAL_PORT"
      exit 1
    fi
  done
fi

"$here/install.sh" # also gives the scripts their AWS CLI

if [ "${HORIZON_LOCALSTACK_MODE:-host}" = docker ]; then
  say "starting LocalStack ${LS_VERSION} with docker compose"
  docker compose -f "$here/docker-compose.yml" up -d --wait
  healthy && say "ready on http://127.0.0.1:${LS_PORT} (docker)" && exit 0
  say "the LocalStack container did not become healthy"
  exit 1
fi

if ! ours_running; then
  say "starting LocalStack ${LS_VERSION} (host mode) on 127.0.0.1:${LS_PORT}; log: $LS_LOG"
  mkdir -p "$LS_FS/tmp" "$LS_FS/var/lib/localstack"
  # KINESIS_LATENCY=0: a table's stream is live when the table is (kinesis-local otherwise takes
  # 0.5 s to make the stream behind it, and LocalStack drops the records written meanwhile).
  # Every table's stream is a Kinesis shard there: the tests make a table each, past the default
  # limit of 100 shards.
  # KINESIS_PERSISTENCE=0: kinesis-local would otherwise write every stream's records to disk
  # every 5 s (its PERSIST_INTERVAL), all of them each time: half a core at rest once the tests
  # had left a few hundred streams. Nothing here persists (DynamoDB Local is in memory too).
  # Its own session (setsid) so that stop.sh can end LocalStack and its DynamoDB Local child together.
  (
    cd "$LS_HOME"
    export OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$LS_FS" \
      GATEWAY_LISTEN="127.0.0.1:${LS_PORT}" LOCALSTACK_HOST="127.0.0.1:${LS_PORT}" \
      SERVICES=sqs,s3,dynamodb,dynamodbstreams,kinesis,cloudformation,sts,iam,ssm EAGER_SERVICE_LOADING=0 \
      SQS_ENDPOINT_STRATEGY=path DNS_ADDRESS=0 DISABLE_EVENTS=1 SKIP_SSL_CERT_DOWNLOAD=1 \
      DYNAMODB_LOCAL_PORT="$LS_DYNAMODB_PORT" DYNAMODB_IN_MEMORY=1 DYNAMODB_REMOVE_EXPIRED_ITEMS=1 \
      S3_SKIP_SIGNATURE_VALIDATION=0 LOCALSTACK_TELEMETRY_DISABLED=1 DISABLE_CORS_CHECKS=1 \
      KINESIS_LATENCY=0 KINESIS_PERSISTENCE=0 KINESIS_SHARD_LIMIT=100000 KINESIS_ON_DEMAND_STREAM_COUNT_LIMIT=100000
    exec setsid "$LS_VENV/bin/python" -m localstack.runtime.main >"$LS_LOG" 2>&1 </dev/null
  ) &
  echo $! >"$LS_PIDFILE"
fi

say "waiting for SQS, S3 and DynamoDB to be ready"
for second in $(seq 1 180); do
  [ $((second % 15)) -eq 0 ] && say "  still starting (${second} s of at most 180)"
  if healthy; then
    # DynamoDB Local starts lazily on the first DynamoDB call: make it now, so the first real
    # request does not pay for the JVM start.
    for _ in $(seq 1 60); do
      if "$LS_VENV/bin/aws" --endpoint-url "http://127.0.0.1:${LS_PORT}" dynamodb list-tables >/dev/null 2>&1; then
        say "ready on http://127.0.0.1:${LS_PORT} (pid $(cat "$LS_PIDFILE"))"
        exit 0
      fi
      sleep 1
    done
    say "DynamoDB did not answer; last lines of $LS_LOG:"
    tail -n 30 "$LS_LOG" >&2
    exit 1
  fi
  if ! ours_running; then
    say "LocalStack exited during start-up; last lines of $LS_LOG:"
    tail -n 40 "$LS_LOG" >&2
    rm -f "$LS_PIDFILE"
    exit 1
  fi
  sleep 1
done
say "LocalStack did not become healthy within 180 s; last lines of $LS_LOG:"
tail -n 40 "$LS_LOG" >&2
exit 1
