#!/usr/bin/env bash
# External MCP clients against `hajatek-mcp --sandbox`: clients we did not write, pinned, on 127.0.0.1 only.
#   1. Node 22 from the npm registry into .tools/ (git-ignored; reused when the pinned versions are already there).
#   2. The MCP Inspector CLI and the official conformance suite, pinned, into .tools/.
#   3. Inspector over stdio and over streamable HTTP, in both protocol eras (2025-11-25 handshake, 2026-07-28
#      stateless): tools/list --strict (schema portability lint), tools/call, resources/read, prompts/get, and an
#      unknown prompt; each output is checked, not just the exit code.
#   4. The conformance suite's server scenarios that do not need its fixture server, on both wire versions
#      (--spec-version 2026-07-28 and 2025-11-25), judged check by check against
#      .ci/conformance-expected-failures.txt: a failing check not listed fails the run, and so does a listed check
#      that passes or does not run.
# The server command is `hajatek-mcp` on PATH (CI runs this inside the venv the package is installed in); set
# HAJATEK_MCP to override it (e.g. HAJATEK_MCP="python -m hajatek_mcp").
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

NODE_VERSION=22.23.3            # `node` npm package; Inspector 2.x needs Node >= 22.19, the conformance suite >= 22
INSPECTOR_VERSION=2.12.0        # @modelcontextprotocol/inspector
CONFORMANCE_VERSION=0.2.0-alpha.12  # @modelcontextprotocol/conformance (the 0.2 alphas test the 2026-07-28 wire)

# Conformance server scenarios that need no fixture. Left out, because they call the suite's fixture tools,
# resources or prompts by name (test_simple_text, test://static-text, test_simple_prompt, ...) and so fail, or pass
# only trivially on an "Unknown tool" error: tools-call-*, resources-read-*, resources-templates-read,
# prompts-get-*, json-schema-2020-12, elicitation-*, server-sse-polling, input-required-result-* (bar
# unsupported-methods, which needs none). Left out because they test optional features hajatek-mcp does not offer:
# logging-set-level and tools-call-with-logging (no `logging` capability declared), http-custom-header-server-
# validation (no tool uses x-mcp-header). Extensions (tasks-*, sep-2640-skills-*) are not in either version.
SCENARIOS_2026=(server-stateless tools-list resources-list prompts-list completion-complete
  sep-2164-resource-not-found caching http-header-validation dns-rebinding-protection server-sse-multiple-streams
  input-required-result-unsupported-methods)
SCENARIOS_2025=(server-initialize server-session-lifecycle ping tools-list resources-list prompts-list
  completion-complete resources-subscribe resources-unsubscribe dns-rebinding-protection server-sse-multiple-streams)

tools=$root/.tools
expected=$root/.ci/conformance-expected-failures.txt
python=${PYTHON:-python3}
read -r -a server_cmd <<<"${HAJATEK_MCP:-hajatek-mcp}"
started=$SECONDS

say() { printf '\n== %s\n' "$*"; }
die() { printf 'external-clients: %s\n' "$*" >&2; exit 1; }

command -v "${server_cmd[0]}" >/dev/null || die "server command '${server_cmd[0]}' not found (activate the venv or set HAJATEK_MCP)"
command -v "$python" >/dev/null || die "$python not found (set PYTHON)"

# ---------------------------------------------------------------------------------------------------------- tools
pkg_version() { # installed version of an npm package in .tools, or nothing
  "$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' \
    "$tools/node_modules/$1/package.json" 2>/dev/null || true
}
node_bin=$tools/node_modules/node/bin
node_ok() { [[ -x $node_bin/node ]] && [[ "$("$node_bin/node" --version 2>/dev/null)" == "v$NODE_VERSION" ]]; }
tools_ok() {
  node_ok && [[ $(pkg_version @modelcontextprotocol/inspector) == "$INSPECTOR_VERSION" ]] &&
    [[ $(pkg_version @modelcontextprotocol/conformance) == "$CONFORMANCE_VERSION" ]]
}

say "tools: node $NODE_VERSION, inspector $INSPECTOR_VERSION, conformance $CONFORMANCE_VERSION in .tools/"
if tools_ok; then
  echo "already installed"
else
  command -v npm >/dev/null || die "npm not found: it is needed once to fetch Node 22 and the tools into .tools/"
  mkdir -p "$tools"
  if command -v flock >/dev/null; then # .tools/ is shared with other CI steps; never run two installs at once
    exec 9>"$tools/.install.lock"
    flock -w 600 9 || die "timed out waiting for another install into .tools/"
  fi
  npm_flags=(--prefix "$tools" --save-exact --no-audit --no-fund --loglevel=error)
  if ! node_ok; then
    timeout 600 npm install "${npm_flags[@]}" "node@$NODE_VERSION"
    node_ok || die "node@$NODE_VERSION installed, but $node_bin/node is not v$NODE_VERSION"
  fi
  # With Node 22 first on PATH, npm runs the tools' install scripts under it.
  PATH="$node_bin:$PATH" timeout 600 npm install "${npm_flags[@]}" \
    "@modelcontextprotocol/inspector@$INSPECTOR_VERSION" "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION"
  tools_ok || die "the pinned tools are not in .tools/ after npm install"
  if command -v flock >/dev/null; then exec 9>&-; fi
fi
export PATH="$node_bin:$PATH"
inspector_bin=$tools/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js
conformance_bin=$tools/node_modules/@modelcontextprotocol/conformance/dist/index.js
echo "node $(node --version), inspector $(pkg_version @modelcontextprotocol/inspector), conformance $(pkg_version @modelcontextprotocol/conformance)"

# ------------------------------------------------------------------------------------------ scratch and cleanup
work=$(mktemp -d "${TMPDIR:-/tmp}/hajatek-external.XXXXXX")
mkdir -p "$work/home" "$work/stdio-data" "$work/http-data" "$work/conformance"
server_pid=
cleanup() {
  local rc=$?
  if [[ -n $server_pid ]]; then
    kill -TERM -- "-$server_pid" 2>/dev/null || kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$server_pid" 2>/dev/null || kill -KILL "$server_pid" 2>/dev/null || true
  fi
  if ((rc != 0)) && [[ -s $work/server.log ]]; then
    echo "--- last lines of the HTTP server's log ($work/server.log) ---" >&2
    tail -n 40 "$work/server.log" >&2
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------------------------------------ Inspector CLI
# HOME points into the scratch dir so the Inspector keeps no state in the real home; the stdio server gets its data
# dir through -e, because the Inspector passes a stdio server only the variables given with -e (plus PATH, HOME...).
inspector() { HOME="$work/home" timeout 90 node "$inspector_bin" --cli "$@"; }

cat >"$work/judge.py" <<'PY'
"""Judge one Inspector CLI run: mode ok|error, a Python expression, stdout, stderr and exit code files."""
import json
import sys

mode, label, expr, out_path, err_path, rc = sys.argv[1:7]
rc = int(rc)


def last_json(path, key):
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    for line in reversed(lines):
        line = line.strip()
        if line.startswith("{"):
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if isinstance(doc, dict) and key in doc:
                return doc
    return None


def text(block):
    return block.get("text", "")


problem = None
try:
    if mode == "ok":
        env = last_json(out_path, "result")
        if rc != 0:
            problem = f"exit code {rc}"
        elif env is None:
            problem = "no JSON result on stdout"
        else:
            r = env["result"]
            if not eval(expr):
                problem = f"result does not satisfy: {expr}"
    else:
        env = last_json(err_path, "error")
        if rc == 0:
            problem = "succeeded, expected an error"
        elif env is None:
            problem = f"exit code {rc} without a JSON error on stderr"
        else:
            e = env["error"]
            if not eval(expr):
                problem = f"error {json.dumps(e)} does not satisfy: {expr}"
except Exception as exc:  # a missing key is a failed check, not a crash of the judge
    problem = f"{type(exc).__name__}: {exc} (checking {expr})"

if problem:
    print(f"FAIL  {label}: {problem}")
    for name, path in (("stdout", out_path), ("stderr", err_path)):
        with open(path, encoding="utf-8", errors="replace") as f:
            data = f.read()
        if data.strip():
            print(f"  --- {name} (first 3000 characters) ---")
            print("  " + data[:3000].replace("\n", "\n  "))
    sys.exit(1)
print(f"ok    {label}")
PY

inspector_failures=0
inspector_checks=0
# expect ok|error LABEL PYTHON-EXPR -- INSPECTOR-ARGS...
#   ok:    the run exits 0 and EXPR holds for the JSON result `r` (and the whole envelope `env`);
#   error: the run exits non-zero and EXPR holds for the JSON error `e` the Inspector prints on stderr.
expect() {
  local mode=$1 label=$2 expr=$3 rc=0
  shift 4
  inspector --format json "$@" >"$work/out" 2>"$work/err" || rc=$?
  inspector_checks=$((inspector_checks + 1))
  "$python" "$work/judge.py" "$mode" "$label" "$expr" "$work/out" "$work/err" "$rc" ||
    inspector_failures=$((inspector_failures + 1))
}

# The same checks for one target in one protocol era; the target (the stdio command after `--`, or the URL) goes
# last, so no server argument can be taken for an Inspector option.
inspector_suite() {
  local where=$1 era=$2
  shift 2
  local -a target=("$@")
  local t="$where/$era"
  # --strict prints every portability finding (errors and warnings) and puts them in the envelope; we accept none.
  expect ok "$t tools/list --strict" \
    '"schemaFindings" not in env and {"get_store", "list_orders"} <= {t["name"] for t in r["tools"]}' \
    -- --protocol-era "$era" --method tools/list --strict "${target[@]}"
  expect ok "$t tools/call get_store" \
    'r["isError"] is False and r["structuredContent"]["id"] == "str_sandbox" and r["structuredContent"]["sandbox"] is True and "str_sandbox" in text(r["content"][0])' \
    -- --protocol-era "$era" --method tools/call --tool-name get_store "${target[@]}"
  expect ok "$t tools/call list_orders status=pending" \
    'r["isError"] is False and len(r["structuredContent"]["orders"]) > 0 and all(o["status"] == "pending" for o in r["structuredContent"]["orders"])' \
    -- --protocol-era "$era" --method tools/call --tool-name list_orders \
    --tool-args-json '{"status": "pending", "limit": 5}' "${target[@]}"
  expect ok "$t resources/read hajatek://store" \
    'r["contents"][0]["uri"] == "hajatek://store" and json.loads(r["contents"][0]["text"])["id"] == "str_sandbox"' \
    -- --protocol-era "$era" --method resources/read --uri hajatek://store "${target[@]}"
  expect ok "$t prompts/get daily_briefing period=7d" \
    'len(r["messages"]) > 0 and "compare='"'previous_week'"'" in text(r["messages"][0]["content"])' \
    -- --protocol-era "$era" --method prompts/get --prompt-name daily_briefing --prompt-args period=7d "${target[@]}"
  # An unknown prompt is the client's mistake: an error that names it, not "Internal server error".
  expect error "$t prompts/get no_such_prompt (error names it)" \
    '"no_such_prompt" in e["message"]' \
    -- --protocol-era "$era" --method prompts/get --prompt-name no_such_prompt "${target[@]}"
}

say "Inspector CLI over stdio: ${server_cmd[*]} --sandbox"
stdio_target=(-e "HAJATEK_DATA_DIR=$work/stdio-data" -- "${server_cmd[@]}" --sandbox)
for era in legacy modern; do inspector_suite stdio "$era" "${stdio_target[@]}"; done

# ------------------------------------------------------------------------------------- streamable HTTP server
free_port() {
  "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
listening() { "$python" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null; }

start_server() { # starts the server on a free port in its own process group; sets server_pid and url
  local port var
  # Like the stdio server, it sees no HAJATEK_* setting of the caller's (an auth token, --read-only, toolsets...)
  # but its own data dir.
  local -a clean_env=(env) group=()
  for var in $(compgen -e); do [[ $var == HAJATEK_* ]] && clean_env+=("--unset=$var"); done
  clean_env+=("HAJATEK_DATA_DIR=$work/http-data")
  if command -v setsid >/dev/null; then group=(setsid); fi # its own process group, so cleanup reaches any children
  for _ in 1 2 3; do # a free port can be taken between the probe and the bind: retry on a fresh one
    port=$(free_port)
    "${group[@]}" "${clean_env[@]}" "${server_cmd[@]}" serve --sandbox --transport streamable-http \
      --host 127.0.0.1 --port "$port" >"$work/server.log" 2>&1 </dev/null &
    server_pid=$!
    for _ in $(seq 300); do # up to 60 s: the first start seeds the sandbox store
      if listening "$port"; then
        url="http://127.0.0.1:$port/mcp"
        return 0
      fi
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -TERM -- "-$server_pid" 2>/dev/null || kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  done
  die "the streamable-HTTP server did not start listening (its log follows)"
}

say "streamable-HTTP server"
start_server
echo "listening on $url (pid $server_pid)"

say "Inspector CLI over streamable HTTP: $url"
for era in legacy modern; do inspector_suite http "$era" --transport http "$url"; done

# ---------------------------------------------------------------------------------------- conformance suite
conformance_errors=0
run_scenarios() {
  local version=$1 scenario rc
  shift
  for scenario in "$@"; do
    rc=0
    timeout 120 node "$conformance_bin" server --url "$url" --scenario "$scenario" --spec-version "$version" \
      --timeout 30000 -o "$work/conformance/$version" >>"$work/conformance/$version.log" 2>&1 || rc=$?
    # 0: all passed; 1: some check failed (judged below, check by check); anything else: the run itself broke.
    if ((rc > 1)); then
      echo "FAIL  conformance $version $scenario: the suite exited $rc (timeout or crash); see the log below"
      conformance_errors=$((conformance_errors + 1))
    fi
  done
}

say "conformance suite $CONFORMANCE_VERSION against $url"
run_scenarios 2026-07-28 "${SCENARIOS_2026[@]}"
run_scenarios 2025-11-25 "${SCENARIOS_2025[@]}"

conformance_rc=0
"$python" - "$work/conformance" "$expected" "2026-07-28=${SCENARIOS_2026[*]}" "2025-11-25=${SCENARIOS_2025[*]}" <<'PY' || conformance_rc=$?
"""Judge the conformance results check by check against the expected-failures list."""
import json
import pathlib
import re
import sys

results_dir, expected_path = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
plan = {v: s.split() for v, s in (arg.split("=", 1) for arg in sys.argv[3:])}
NOT_PASSING = {"FAILURE", "WARNING"}  # the suite's own baseline treats warnings as failures too

expected, bad_lines = {}, []
for n, raw in enumerate(expected_path.read_text(encoding="utf-8").splitlines(), 1):
    entry, _, reason = raw.partition("#")
    entry = entry.strip()
    if not entry:
        continue
    if not re.fullmatch(r"[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+", entry) or not reason.strip():
        bad_lines.append(f"{expected_path.name}:{n}: want 'scenario:check-id  # reason', got {raw!r}")
    expected[entry] = reason.strip()

problems = list(bad_lines)
seen_failing, seen = set(), set()
for version, scenarios in plan.items():
    dirs = {}
    for d in (results_dir / version).glob("server-*"):
        m = re.fullmatch(r"server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z", d.name)
        if m and (d / "checks.json").is_file():
            dirs[m.group(1)] = d
    passed = expected_fail = 0
    for scenario in scenarios:
        if scenario not in dirs:
            problems.append(f"{version} {scenario}: the suite wrote no results (unknown scenario, not applicable, or it crashed)")
            continue
        checks = json.loads((dirs[scenario] / "checks.json").read_text(encoding="utf-8"))
        if not checks:
            problems.append(f"{version} {scenario}: no checks ran")
        for c in checks:
            key = f"{scenario}:{c['id']}"
            seen.add(key)
            status = c.get("status")
            if status in NOT_PASSING:
                seen_failing.add(key)
                if key in expected:
                    expected_fail += 1
                    print(f"  expected  {version} {key} [{status}] ({expected[key]})")
                else:
                    problems.append(f"{version} {key} [{status}]: {c.get('errorMessage') or c.get('description')}")
            elif status == "SUCCESS":
                passed += 1
    print(f"{version}: {len(scenarios)} scenarios, {passed} checks passed, {expected_fail} expected failures")

for key, reason in expected.items():
    if key not in seen:
        problems.append(f"{key} is listed in {expected_path.name} but did not run: remove it or fix the scenario lists")
    elif key not in seen_failing:
        problems.append(f"{key} is listed in {expected_path.name} but now passes: remove it ({reason})")

for p in problems:
    print(f"FAIL  conformance {p}")
sys.exit(1 if problems else 0)
PY

if ((conformance_rc != 0 || conformance_errors != 0)); then
  for version in 2026-07-28 2025-11-25; do
    echo "--- conformance log, $version (last 60 lines) ---"
    tail -n 60 "$work/conformance/$version.log" 2>/dev/null || true
  done
fi

say "summary"
echo "Inspector: $((inspector_checks - inspector_failures))/$inspector_checks checks passed"
echo "conformance: $([[ $conformance_rc == 0 && $conformance_errors == 0 ]] && echo ok || echo FAILED)"
echo "took $((SECONDS - started)) s"
if ((inspector_failures != 0 || conformance_rc != 0 || conformance_errors != 0)); then
  exit 1
fi
echo "external clients passed"
