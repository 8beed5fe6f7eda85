"""The mock's stateless conformance mode, driven by the official Python SDK.

Usage: python stateless.py BASE_URL SPEC_PATH

Sends every operation through `client.beta.environments` twice, with only
the required inputs and with every optional input, and validates each raw
answer against the spec's response schema (OAS 3.0, `nullable` included).
Then sends invalid requests, at least one per operation, over plain HTTP,
and expects the API's 400 (or 401) envelope naming the field. Prints one
line per check and `N passed, 0 failed`; exits non-zero on failure.
"""

import json
import sys
import urllib.error
import urllib.request

import anthropic

from spec_check import SpecCheck

BASE_URL, SPEC_PATH = sys.argv[1], sys.argv[2]
spec = SpecCheck(SPEC_PATH)
check = spec.check

client = anthropic.Anthropic(api_key="sk-ant-python-sdk", base_url=BASE_URL, max_retries=0)
envs = client.beta.environments.with_raw_response
work = client.beta.environments.work.with_raw_response
E, EID = "/v1/environments", "/v1/environments/{environment_id}"
W = EID + "/work"
WID = W + "/{work_id}"
BETAS = ["files-api-2025-04-14"]
WS = "wrkspc_011CZkZaBF1tNoB5wlCeusgy"

# Every operation: required inputs only, then every optional input.
check("create (required)", envs.create(name="n"), E, "post")
check("create (every option)", envs.create(
    name="n", description="d", metadata={"k": "v"}, scope="organization", betas=BETAS,
    config={"type": "cloud", "networking": {"type": "limited", "allowed_hosts": ["h"],
                                            "allow_mcp_servers": True, "allow_package_managers": True},
            "packages": {"type": "packages", "pip": ["pandas"], "apt": ["jq"]}}), E, "post")
check("list (required)", envs.list(), E, "get")
check("list (every option)", envs.list(include_archived=True, limit=5, page="page_x", betas=BETAS), E, "get")
env = check("retrieve (required)", envs.retrieve("env_a"), EID, "get")
assert env.id == "env_a", env.id
spec.ok("retrieve echoes the path's environment id")
check("retrieve (every option)", envs.retrieve("env_a", betas=BETAS), EID, "get")
check("update (required)", envs.update("env_a"), EID, "post")
check("update (every option)", envs.update(
    "env_a", name="m", description=None, metadata={"k": None}, scope="account",
    config={"type": "self_hosted"}, betas=BETAS), EID, "post")
check("delete (required)", envs.delete("env_a"), EID, "delete")
check("delete (every option)", envs.delete("env_a", betas=BETAS), EID, "delete")
check("archive (required)", envs.archive("env_a"), EID + "/archive", "post")
check("archive (every option)", envs.archive("env_a", betas=BETAS), EID + "/archive", "post")

check("list work (required)", work.list("env_a"), W, "get")
check("list work (every option)", work.list("env_a", limit=2, page="p", betas=BETAS), W, "get")
check("poll (required)", work.poll("env_a"), W + "/poll", "get")
check("poll (every option)", work.poll("env_a", block_ms=999, reclaim_older_than_ms=5000,
                                       anthropic_worker_id="py", betas=BETAS), W + "/poll", "get")
check("stats (required)", work.stats("env_a"), W + "/stats", "get")
check("stats (every option)", work.stats("env_a", betas=BETAS), W + "/stats", "get")
item = check("retrieve work (required)", work.retrieve("work_b", environment_id="env_a"), WID, "get")
assert (item.id, item.environment_id) == ("work_b", "env_a"), item
spec.ok("retrieve work echoes both path ids")
check("retrieve work (every option)", work.retrieve("work_b", environment_id="env_a", betas=BETAS), WID, "get")
check("update work (required)", work.update("work_b", environment_id="env_a", metadata={"k": "v"}), WID, "post")
check("update work (every option)", work.update("work_b", environment_id="env_a", metadata={"k": None},
                                                betas=BETAS), WID, "post")
check("ack (required)", work.ack("work_b", environment_id="env_a"), WID + "/ack", "post")
check("ack (every option)", work.ack("work_b", environment_id="env_a", betas=BETAS), WID + "/ack", "post")
check("heartbeat (required)", work.heartbeat("work_b", environment_id="env_a"), WID + "/heartbeat", "post")
check("heartbeat (every option)", work.heartbeat("work_b", environment_id="env_a", desired_ttl_seconds=60,
                                                 expected_last_heartbeat="NO_HEARTBEAT", betas=BETAS),
      WID + "/heartbeat", "post")
check("stop (required)", work.stop("work_b", environment_id="env_a"), WID + "/stop", "post")
check("stop (every option)", work.stop("work_b", environment_id="env_a", force=True, betas=BETAS),
      WID + "/stop", "post")


def raw(method, path, body=None, auth=True):
    headers = {"anthropic-beta": "managed-agents-2026-04-01"}
    if auth:
        headers["authorization"] = "Bearer sk-ant-python-sdk"
    data = None
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        headers["content-type"] = "application/json"
    req = urllib.request.Request(f"{BASE_URL}{path}", data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


# Invalid requests: (operation, method, path, body, auth, status, the field the message names)
INVALID = [
    ("create_environment", "POST", E, {}, True, 400, "name"),
    ("create_environment", "POST", E, {"name": 5}, True, 400, "name"),
    ("create_environment", "POST", E, {"name": "n", "config": {"type": "moon"}}, True, 400, "config.type"),
    ("create_environment", "POST", E, "{not json", True, 400, "invalid JSON"),
    ("list_environments", "GET", E + "?limit=many", None, True, 400, "limit"),
    ("list_environments", "GET", E + "?include_archived=maybe", None, True, 400, "include_archived"),
    ("retrieve_environment", "GET", "/v1/environments/env_a", None, False, 401, "credentials"),
    ("update_environment", "POST", "/v1/environments/env_a", {"scope": "planet"}, True, 400, "scope"),
    ("update_environment", "POST", "/v1/environments/env_a", {"metadata": {"k": 1}}, True, 400, "metadata.k"),
    ("delete_environment", "DELETE", "/v1/environments/env_a", None, False, 401, "credentials"),
    ("archive_environment", "POST", "/v1/environments/env_a/archive", None, False, 401, "credentials"),
    ("list_work", "GET", "/v1/environments/env_a/work?limit=1.5", None, True, 400, "limit"),
    ("poll_work", "GET", "/v1/environments/env_a/work/poll?block_ms=0", None, True, 400, "block_ms"),
    ("poll_work", "GET", "/v1/environments/env_a/work/poll?block_ms=1000", None, True, 400, "block_ms"),
    ("poll_work", "GET", "/v1/environments/env_a/work/poll?reclaim_older_than_ms=soon", None, True, 400,
     "reclaim_older_than_ms"),
    ("work_stats", "GET", "/v1/environments/env_a/work/stats", None, False, 401, "credentials"),
    ("retrieve_work", "GET", "/v1/environments/env_a/work/work_b", None, False, 401, "credentials"),
    ("update_work", "POST", "/v1/environments/env_a/work/work_b", {}, True, 400, "metadata"),
    ("update_work", "POST", "/v1/environments/env_a/work/work_b", {"metadata": {"k": 2}}, True, 400, "metadata.k"),
    ("ack_work", "POST", "/v1/environments/env_a/work/work_b/ack", None, False, 401, "credentials"),
    ("heartbeat_work", "POST", "/v1/environments/env_a/work/work_b/heartbeat?desired_ttl_seconds=x", None, True,
     400, "desired_ttl_seconds"),
    ("stop_work", "POST", "/v1/environments/env_a/work/work_b/stop", None, True, 400, "request body"),
    ("stop_work", "POST", "/v1/environments/env_a/work/work_b/stop", {"force": "yes"}, True, 400, "force"),
]
for operation, method, path, body, auth, status, field in INVALID:
    got, answer = raw(method, path, body, auth)
    assert got == status, (operation, path, body, got, answer)
    spec.validate(answer, E, "post", "4XX")
    message = answer["error"]["message"]
    assert field in message, (operation, field, message)
    spec.ok(f"invalid {operation}: {status} naming {field}")

spec.summary()
