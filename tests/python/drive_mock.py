"""Drive the mock server with the official Python SDK (anthropic 2.10.0).

Usage: python drive_mock.py BASE_URL SPEC_PATH

Calls each of the 14 operations through `client.beta.environments`, checks
every raw response body against the project's OpenAPI spec (OAS 3.0 schema
validation, `nullable` included), then runs the SDK's own worker loop
(`anthropic.lib.environments.iter_work`) over queued items. Prints one line
per check and `N passed, 0 failed` at the end; exits non-zero on failure.
"""

import json
import sys
import urllib.request

import anthropic
from anthropic.lib.environments import iter_work

from spec_check import SpecCheck

BASE_URL, SPEC_PATH = sys.argv[1], sys.argv[2]
spec = SpecCheck(SPEC_PATH)
check = spec.check


def control_queue(environment_id, session_id):
    req = urllib.request.Request(
        f"{BASE_URL}/_mock/environments/{environment_id}/work",
        data=json.dumps({"session_id": session_id}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req) as r:
        assert r.status == 201


client = anthropic.Anthropic(api_key="sk-ant-python-sdk", base_url=BASE_URL, max_retries=0)
envs = client.beta.environments.with_raw_response
work = client.beta.environments.work.with_raw_response
E, EID = "/v1/environments", "/v1/environments/{environment_id}"
W = EID + "/work"
WID = W + "/{work_id}"

cloud = check("create cloud", envs.create(
    name="py-cloud",
    config={"type": "cloud", "networking": {"type": "limited", "allowed_hosts": ["api.example.com"],
                                            "allow_package_managers": True},
            "packages": {"type": "packages", "pip": ["pandas"]}},
    description="from the Python SDK", metadata={"k": "v"}, scope="organization",
    betas=["files-api-2025-04-14"]), E, "post")
env = check("create self-hosted", envs.create(name="py-workers", config={"type": "self_hosted"}), E, "post")
check("list", envs.list(limit=1), E, "get")
check("list include_archived", envs.list(include_archived=True, limit=5), E, "get")
check("retrieve", envs.retrieve(cloud.id), EID, "get")
updated = check("update", envs.update(cloud.id, name="py-cloud-2", metadata={"k": None, "n": "1"}), EID, "post")
assert updated.name == "py-cloud-2" and updated.metadata == {"n": "1"}, updated
check("archive", envs.archive(cloud.id), EID + "/archive", "post")
deleted = check("delete", envs.delete(cloud.id), EID, "delete")
assert deleted.type == "environment_deleted"

# Work, one call per operation.
control_queue(env.id, "session_py_1")
item = check("poll", work.poll(env.id, block_ms=500, anthropic_worker_id="py-1"), W + "/poll", "get")
assert item is not None and item.data.id == "session_py_1", item
check("ack", work.ack(item.id, environment_id=env.id), WID + "/ack", "post")
beat = check("heartbeat", work.heartbeat(item.id, environment_id=env.id, desired_ttl_seconds=30,
                                         expected_last_heartbeat="NO_HEARTBEAT"), WID + "/heartbeat", "post")
try:
    client.beta.environments.work.heartbeat(item.id, environment_id=env.id, expected_last_heartbeat="NO_HEARTBEAT")
    raise AssertionError("a stale heartbeat must be refused")
except anthropic.APIStatusError as e:
    assert e.status_code == 412, e
    spec.validate(e.response.json(), WID + "/heartbeat", "post", "412")
    assert e.response.json()["error"]["details"]["error_code"] == "heartbeat_precondition_failed"
    spec.ok("heartbeat 412")
check("retrieve work", work.retrieve(item.id, environment_id=env.id), WID, "get")
check("update work", work.update(item.id, environment_id=env.id, metadata={"a": "1", "b": None}), WID, "post")
check("list work", work.list(env.id, limit=10), W, "get")
check("stats", work.stats(env.id), W + "/stats", "get")
stopped = check("stop", work.stop(item.id, environment_id=env.id, force=True), WID + "/stop", "post")
assert stopped.state == "stopped"
empty = work.poll(env.id)
assert empty.http_response.json() is None and empty.parse() is None
spec.ok("poll without work is None")
try:
    client.beta.environments.retrieve("env_missing")
    raise AssertionError("404 expected")
except anthropic.NotFoundError as e:
    spec.validate(e.response.json(), EID, "get", "4XX")
    spec.ok("404 envelope")

# The SDK's own worker loop: drain the queue, acking and stopping each item.
for i in range(5):
    control_queue(env.id, f"session_loop_{i}")
seen = []
for claimed in iter_work(client.beta.environments.work, environment_id=env.id, drain=True, block_ms=None,
                         worker_id="py-worker"):
    assert claimed.state == "queued"
    seen.append(claimed.data.id)
assert sorted(seen) == [f"session_loop_{i}" for i in range(5)], seen
spec.ok("iter_work drained 5 items")
states = {w.data.id: w.state for w in client.beta.environments.work.list(env.id, limit=100).data}
assert all(states[s] in ("stopping", "stopped") for s in seen), states
spec.ok("iter_work stopped every item")
stats = client.beta.environments.work.stats(env.id)
assert stats.depth == 0 and stats.pending == 0 and stats.workers_polling >= 1, stats
spec.ok("stats after the loop")

spec.summary()
