#!/usr/bin/env bash
# The examples in examples/ run as documented (docs/clients.md), each against the sandbox, with no model or API key.
#
# Each agent framework is installed the way docs/clients.md tells a user to: in a virtualenv of its own, without
# hajatek-mcp (LangChain's adapters pin MCP SDK 1.x, hajatek-mcp needs 2.x). The examples start the server as a
# separate process over stdio (HAJATEK_MCP_COMMAND) and reach the two servers started here over streamable HTTP
# (HAJATEK_MCP_URL) and SSE (HAJATEK_MCP_SSE_URL). Frameworks that agree on their dependencies share one venv.
# The server is `hajatek-mcp` on PATH (.ci/run's venv); set HAJATEK_MCP_COMMAND to use another.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

# Verified together on 2026-12-01; raise them on purpose, after running this script.
LANGCHAIN_VENV=(langchain-mcp-adapters==0.3.2 mcp==1.30.0)  # the adapters pin mcp<2: a 1.x client, on purpose
MCP2_VENV=(mcp==2.3.0 openai-agents==0.24.0 "pydantic-ai-slim[mcp]==2.68.0")  # + examples/raw_mcp_sdk.py

die() { printf 'examples: %s\n' "$*" >&2; exit 1; }
server=$(command -v "${HAJATEK_MCP_COMMAND:-hajatek-mcp}" || true)
[[ -n $server ]] || die "hajatek-mcp not found: activate the venv it is installed in, or set HAJATEK_MCP_COMMAND"

work="$(mktemp -d)"
server_pids=()
install_pids=()
cleanup() {
  local rc=$? pid log
  for pid in "${server_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${install_pids[@]}"; do kill -- "-$pid" 2>/dev/null || true; done # an install still running
  wait 2>/dev/null || true
  if ((rc != 0)); then
    for log in "$work"/server-*.log; do
      if [[ -s $log ]]; then echo "--- last lines of $log" >&2 && tail -n 20 "$log" >&2; fi
    done
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

# The framework venvs install in the background (network-bound, mostly) while the servers start, each in its own
# process group so that cleanup can stop a pip still running.
install() { # install NAME PACKAGE...: sets $install_pid
  local name=$1
  shift
  setsid bash -c 'python3 -m venv "$1" && "$1/bin/python" -m pip install --quiet "${@:2}"' _ "$work/$name" "$@" \
    >"$work/pip-$name.log" 2>&1 &
  install_pid=$!
  install_pids+=("$install_pid")
}
installed() { # installed NAME PID: waits for the install, shows pip's output if it failed
  wait "$2" && return 0
  cat "$work/pip-$1.log" >&2
  die "installing the $1 venv failed"
}
install langchain "${LANGCHAIN_VENV[@]}" && langchain_pid=$install_pid
install mcp2 "${MCP2_VENV[@]}" && mcp2_pid=$install_pid

serve() { # serve NAME TRANSPORT [VAR=VALUE...]: `hajatek-mcp serve --sandbox` on 127.0.0.1; sets $port
  local name=$1 transport=$2
  shift 2
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  env -u HAJATEK_MCP_AUTH_TOKEN HAJATEK_DATA_DIR="$work/data-$name" "$@" \
    "$server" serve --sandbox --transport "$transport" --host 127.0.0.1 --port "$port" >"$work/server-$name.log" 2>&1 &
  server_pids+=($!)
}
listening() { # listening PORT PID: waits up to 60 s (the first start seeds the sandbox store)
  for _ in $(seq 1 300); do
    python3 -c "import socket, sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)" "$1" 2>/dev/null &&
      return 0
    kill -0 "$2" 2>/dev/null || die "the server for port $1 exited"
    sleep 0.2
  done
  die "no server listening on port $1"
}
token="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
serve http streamable-http && http_port=$port
serve sse sse && sse_port=$port
serve bearer streamable-http HAJATEK_MCP_AUTH_TOKEN="$token" && bearer_port=$port
listening "$http_port" "${server_pids[0]}"
listening "$sse_port" "${server_pids[1]}"
listening "$bearer_port" "${server_pids[2]}"

# Each example talks to the stdio server it starts and to the two HTTP servers; its stdio servers keep their state in
# the scratch dir (the SDK passes a stdio server only HOME, PATH and a few more, so HOME is what moves it).
run_example() { # run_example VENV SCRIPT: prints the output and checks every transport listed the tools and called one
  local venv=$1 script=$2 out transport
  echo "== $script ($venv venv)"
  out=$(HOME="$work/home" HAJATEK_MCP_COMMAND="$server" HAJATEK_MCP_URL="http://127.0.0.1:$http_port/mcp" \
    HAJATEK_MCP_SSE_URL="http://127.0.0.1:$sse_port/sse" "$work/$venv/bin/python" "$script") ||
    die "$script failed"
  echo "$out"
  for transport in stdio streamable-http sse; do
    grep -Eq "^\[$transport\] [0-9]+ tools:.*list_orders" <<<"$out" || die "$script: no tool list over $transport"
    grep -A3 "^\[$transport\] list_orders status=pending" <<<"$out" | grep -Eq 'ord_[0-9]+.*pending' ||
      die "$script: no pending order from list_orders over $transport"
  done
}
mkdir -p "$work/home"

installed mcp2 "$mcp2_pid"
run_example mcp2 examples/openai_agents_sdk.py
run_example mcp2 examples/pydantic_ai_agent.py
run_example mcp2 examples/raw_mcp_sdk.py

# A remote agent with a bearer token over streamable HTTP (the MCP SDK 2.x client).
echo "== examples/remote_bearer_client.py (mcp2 venv)"
out=$(HAJATEK_MCP_AUTH_TOKEN="$token" HAJATEK_MCP_URL="http://127.0.0.1:$bearer_port/mcp" \
  "$work/mcp2/bin/python" examples/remote_bearer_client.py) || die "remote_bearer_client.py failed"
echo "$out"
grep -Eq "^[0-9]+ tools:.*list_orders" <<<"$out" || die "remote_bearer_client.py: no tool list"
grep -q "last 7 days:" <<<"$out" || die "remote_bearer_client.py: no analytics"

installed langchain "$langchain_pid"
run_example langchain examples/langchain_adapters.py

echo "examples passed in $((SECONDS - started)) s"
