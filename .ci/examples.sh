#!/usr/bin/env bash
# The examples in examples/ run as documented (docs/clients.md), each against the sandbox, with no model or API key.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'kill "${server_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
export HAJATEK_DATA_DIR="$work/data"

# OpenAI Agents SDK, in its own environment as a user would install it.
python3 -m venv "$work/agents"
"$work/agents/bin/python" -m pip install --quiet . openai-agents
out=$(PATH="$work/agents/bin:$PATH" "$work/agents/bin/python" examples/openai_agents_sdk.py)
echo "$out"
grep -q "^12 tools:" <<<"$out"
grep -q "pending" <<<"$out"

# A remote agent with a bearer token over streamable HTTP.
export HAJATEK_MCP_AUTH_TOKEN="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$work/agents/bin/hajatek-mcp" serve --sandbox --transport streamable-http --host 127.0.0.1 --port "$port" \
  2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 150); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
  sleep 0.2
done
out=$(HAJATEK_MCP_URL="http://127.0.0.1:$port/mcp" "$work/agents/bin/python" examples/remote_bearer_client.py)
echo "$out"
grep -q "^12 tools:" <<<"$out"
grep -q "last 7 days:" <<<"$out"
echo "examples passed"
