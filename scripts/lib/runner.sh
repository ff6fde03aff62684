# shellcheck shell=bash
# Starts a local runner for a test tool (schemathesis, the clients' suites) with a key of its own,
# and stops it when the calling script exits. Expects the stack's environment (scripts/test sets
# it). Usage: start_runner PORT KEY [VAR=VALUE ...]  (extra settings for the runner)
start_runner() {
  local port=$1 key=$2
  shift 2
  cargo build --quiet -p horizon-local
  runner_log=$(mktemp)
  env PORT="$port" HORIZON_DEV_API_KEY="$key" RUST_LOG=warn "$@" \
    "${CARGO_TARGET_DIR:-$root/target}/debug/horizon-local" >"$runner_log" 2>&1 &
  runner_pid=$!
  trap stop_runner EXIT
  for _ in $(seq 1 100); do
    grep -q "listening" "$runner_log" && return 0
    kill -0 "$runner_pid" 2>/dev/null || { cat "$runner_log" >&2; exit 1; }
    sleep 0.2
  done
  echo "[runner] did not start within 20 s" >&2
  cat "$runner_log" >&2
  exit 1
}

stop_runner() {
  kill "$runner_pid" 2>/dev/null || true
  wait "$runner_pid" 2>/dev/null || true
  rm -f "$runner_log"
}

# A new API key for the development account the runner makes.
new_key() {
  echo "hzn_$1_$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
}
