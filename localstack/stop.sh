#!/usr/bin/env bash
# Stops the LocalStack that start.sh started (by its recorded PID and process group), nothing else.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/env.sh"
if [ "${HORIZON_LOCALSTACK_MODE:-host}" = docker ]; then
  docker compose -f "$here/docker-compose.yml" down
  exit 0
fi
if [ ! -f "$LS_PIDFILE" ]; then
  echo "[localstack] not started by start.sh (no $LS_PIDFILE); nothing to stop" >&2
  exit 0
fi
pid=$(cat "$LS_PIDFILE")
if kill -0 "$pid" 2>/dev/null; then
  # start.sh ran it under setsid: its process group id is its pid, and DynamoDB Local is in it.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && kill -KILL -- "-$pid" 2>/dev/null
  echo "[localstack] stopped (pid $pid)" >&2
else
  echo "[localstack] pid $pid was not running" >&2
fi
rm -f "$LS_PIDFILE"
