# Shared by the LocalStack scripts: where things are installed and which ports are used.
# shellcheck shell=bash
LS_VERSION=4.8.1
LS_PORT=${HORIZON_LOCALSTACK_PORT:-4566}
LS_DYNAMODB_PORT=${HORIZON_DYNAMODB_LOCAL_PORT:-8000}
HORIZON_CACHE_DIR=${HORIZON_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/horizon}
LS_HOME="$HORIZON_CACHE_DIR/localstack-$LS_VERSION"
LS_VENV="$LS_HOME/venv"
LS_FS="$LS_HOME/fs"
LS_LIB="$LS_FS/var/lib/localstack/lib"
LS_PIDFILE="$LS_HOME/localstack.pid"
LS_LOG="$LS_HOME/localstack.log"
# Credentials and region for clients of the local stack (LocalStack accepts any).
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
export AWS_REGION=${AWS_REGION:-us-east-1} AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}
