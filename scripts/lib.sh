# Shared by scripts/dev and scripts/test. Sourced, not run.
# Everything here is idempotent: on a machine that has never seen the project it installs
# what is missing into the project (./.venv), and on the next run it finds it there.

set -euo pipefail

C360_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
C360_VENV="$C360_ROOT/.venv"
C360_STATE="$C360_ROOT/.local"
# Pinned: scripts/emulator/moto_server.py patches moto's internals for this exact version.
MOTO_VERSION="5.2.1"
CARGO_LAMBDA_VERSION="1.9.2"
# Pinned together: aws-sam-cli 1.170.0 requires cfn-lint >=1.52,<1.59 (infra checks, scripts/check-infra).
CFN_LINT_VERSION="1.58.0"
SAM_CLI_VERSION="1.170.0"

# Bold only for a terminal: in a file (`scripts/dev > dev.log`, CI's log) escapes are noise.
c360_log() {
    if [ -t 2 ]; then printf '\033[1m[c360]\033[0m %s\n' "$*" >&2; else printf '[c360] %s\n' "$*" >&2; fi
}

# Python venv with the DynamoDB emulator (moto) and boto3.
c360_ensure_python() {
    if [ ! -x "$C360_VENV/bin/python" ]; then
        c360_log "creating $C360_VENV"
        python3 -m venv "$C360_VENV" 2>/dev/null || {
            c360_log "python3 venv is missing; installing python3-venv"
            apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
            python3 -m venv "$C360_VENV"
        }
    fi
    if ! "$C360_VENV/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
        c360_log "installing moto[server]==$MOTO_VERSION into .venv"
        "$C360_VENV/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION" boto3
    fi
}

# The console's npm packages (console/package-lock.json: Chart.js and oidc-client-ts, and for the
# browser tests playwright-core, node-oidc-provider and jose) into console/node_modules, and the
# two libraries' browser builds (with their source maps) into console/vendor, where the console
# loads them from its own origin. npm ci again only when the lockfile changed. Node.js 20 or
# later (playwright-core's minimum).
c360_ensure_console() {
    local dir="$C360_ROOT/console" stamp="$C360_ROOT/console/node_modules/.c360-lock"
    if ! command -v npm >/dev/null; then
        c360_log "npm is missing; installing Debian's nodejs and npm"
        apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
    fi
    if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
        c360_log "the console needs Node.js 20 or later; this machine has $(node --version)"
        return 1
    fi
    if ! cmp -s "$dir/package-lock.json" "$stamp" 2>/dev/null; then
        c360_log "installing the console's npm packages (npm ci in console/)"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
        cp "$dir/package-lock.json" "$stamp"
    fi
    mkdir -p "$dir/vendor"
    cp "$dir/node_modules/chart.js/dist/chart.umd.min.js" "$dir/vendor/chart.umd.js"
    # OIDC sign-in (authorization code with PKCE), loaded only when config.json names a provider.
    cp "$dir/node_modules/oidc-client-ts/dist/browser/oidc-client-ts.min.js" "$dir/vendor/oidc-client-ts.js"
    # Under the names the two files' sourceMappingURL comments give (read by DevTools only).
    cp "$dir/node_modules/chart.js/dist/chart.umd.min.js.map" \
        "$dir/node_modules/oidc-client-ts/dist/browser/oidc-client-ts.min.js.map" "$dir/vendor/"
}

# cargo-lambda (and zig, its default linker) from PyPI into the venv.
c360_ensure_cargo_lambda() {
    c360_ensure_python
    if ! "$C360_VENV/bin/cargo-lambda" lambda -V 2>/dev/null | grep -q "$CARGO_LAMBDA_VERSION"; then
        c360_log "installing cargo-lambda==$CARGO_LAMBDA_VERSION and ziglang into .venv"
        "$C360_VENV/bin/pip" install -q --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION" ziglang
    fi
    export PATH="$C360_VENV/bin:$PATH"
}

# cfn-lint (CloudFormation linter) from PyPI into the venv.
c360_ensure_cfn_lint() {
    c360_ensure_python
    if ! "$C360_VENV/bin/cfn-lint" --version 2>/dev/null | grep -q "cfn-lint $CFN_LINT_VERSION\$"; then
        c360_log "installing cfn-lint==$CFN_LINT_VERSION into .venv"
        "$C360_VENV/bin/pip" install -q --disable-pip-version-check "cfn-lint==$CFN_LINT_VERSION"
    fi
    export PATH="$C360_VENV/bin:$PATH"
}

# AWS SAM CLI (`sam build`, `sam validate --lint`, `sam deploy`) from PyPI into the venv,
# with the cfn-lint it must agree with.
c360_ensure_sam() {
    c360_ensure_cfn_lint
    if ! "$C360_VENV/bin/sam" --version 2>/dev/null | grep -q "version $SAM_CLI_VERSION\$"; then
        c360_log "installing aws-sam-cli==$SAM_CLI_VERSION into .venv"
        "$C360_VENV/bin/pip" install -q --disable-pip-version-check "aws-sam-cli==$SAM_CLI_VERSION" "cfn-lint==$CFN_LINT_VERSION"
    fi
    export PATH="$C360_VENV/bin:$PATH"
}

c360_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

c360_wait_for_port() { # port, name, pid
    local port=$1 name=$2 pid=$3
    for _ in $(seq 1 150); do
        if python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1', $port)))" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            c360_log "$name exited before listening on port $port; its log:"
            cat "$C360_STATE/$name.log" >&2 || true
            return 1
        fi
        sleep 0.2
    done
    c360_log "$name did not listen on port $port within 30 s"
    return 1
}

C360_PIDS=()
# SIGTERM, then SIGKILL for what is still running 5 s later: the emulator has been seen to
# swallow SIGTERM (its handler's exit raised inside a server thread and was caught), which
# left scripts/dev waiting forever with moto spinning a core.
c360_stop_all() {
    local pid waited=0
    for pid in "${C360_PIDS[@]+"${C360_PIDS[@]}"}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${C360_PIDS[@]+"${C360_PIDS[@]}"}"; do
        while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 50 ]; do
            sleep 0.1
            waited=$((waited + 1))
        done
        if kill -0 "$pid" 2>/dev/null; then
            c360_log "process $pid did not stop on SIGTERM within 5 s; killing it"
            kill -9 "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    C360_PIDS=()
}

# Starts the emulator on a free loopback port; sets C360_MOTO_URL.
c360_start_moto() {
    c360_ensure_python
    mkdir -p "$C360_STATE"
    local port
    port=$(c360_free_port)
    "$C360_VENV/bin/python" "$C360_ROOT/scripts/emulator/moto_server.py" -H 127.0.0.1 -p "$port" >"$C360_STATE/moto.log" 2>&1 &
    local pid=$!
    C360_PIDS+=("$pid")
    c360_wait_for_port "$port" moto "$pid"
    C360_MOTO_URL="http://127.0.0.1:$port"
}

# Debian's redis-server (the cache; ElastiCache runs Valkey, the same protocol).
c360_ensure_redis() {
    if ! command -v redis-server >/dev/null 2>&1; then
        c360_log "installing Debian's redis-server"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    fi
}

# Starts redis-server on a free loopback port, in memory only; sets C360_REDIS_URL_LOCAL.
c360_start_redis() {
    c360_ensure_redis
    mkdir -p "$C360_STATE"
    local port
    port=$(c360_free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --maxmemory 256mb --maxmemory-policy allkeys-lru >"$C360_STATE/redis.log" 2>&1 &
    local pid=$!
    C360_PIDS+=("$pid")
    c360_wait_for_port "$port" redis "$pid"
    C360_REDIS_URL_LOCAL="redis://127.0.0.1:$port"
}
