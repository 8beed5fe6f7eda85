"""The official Python SDK's worker path against the mock in strict mode.

Usage: python official_poller.py BASE_URL

The mock checks credentials as the real API does. An administrator (API
key) creates a self-hosted environment; the environment key comes from the
mock's control surface; then the SDK's own async poller
(`client.beta.environments.work.poller`, anthropic 2.10.0), which holds only
the environment key, drains the queue: sessions and a health check. The
mock's request journal must show that the poller authenticated every call
with the environment key, and that each call succeeded. Prints one line per
check and `N passed, 0 failed`; exits non-zero on failure.
"""

import asyncio
import base64
import json
import os
import sys
import urllib.request

import anthropic

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mockctl  # noqa: E402

BASE_URL = sys.argv[1]


CHECKS = mockctl.Checks()
ok = CHECKS.ok


def control(method, path, body=None):
    return mockctl.control(BASE_URL, method, path, body)


async def main():
    admin = anthropic.AsyncAnthropic(api_key="sk-ant-api-python-admin", base_url=BASE_URL, max_retries=0)
    env = await admin.beta.environments.create(name="python-poller", config={"type": "self_hosted"})
    key = control("GET", f"/_mock/environments/{env.id}/key")["environment_key"]
    assert key.startswith("sk-ant-oat01-"), key
    ok("environment key from the control surface")

    # The API key is refused where the real API refuses it.
    try:
        await admin.beta.environments.work.list(env.id)
        raise AssertionError("list_work accepted an API key")
    except anthropic.PermissionDeniedError:
        ok("list_work refuses an API key (403, PermissionDeniedError)")

    for i in range(3):
        control("POST", f"/_mock/environments/{env.id}/work", {"session_id": f"session_py_{i}"})
    control("POST", f"/_mock/environments/{env.id}/work", {"data": {"type": "healthcheck", "id": "hc_py"}})
    control("DELETE", "/_mock/requests")

    seen = []
    async for item in admin.beta.environments.work.poller(
        environment_id=env.id, environment_key=key, drain=True, block_ms=None, worker_id="py-poller"
    ):
        payload = json.loads(base64.urlsafe_b64decode(item.secret + "=" * (-len(item.secret) % 4)))
        assert payload["sessions_token"].startswith("sk-ant-req-"), "secret payload"
        seen.append(item.data.type)
    assert sorted(seen) == ["healthcheck", "session", "session", "session"], seen
    ok("the poller claimed every item, each with a decodable secret")

    journal = control("GET", "/_mock/requests")
    ops = {entry["operation"] for entry in journal}
    assert {"poll_work", "ack_work", "stop_work"} <= ops, ops
    for entry in journal:
        assert entry["status"] < 400, entry
        assert entry["caller"] == {"kind": "environment_key", "environment_id": env.id}, entry
    ok(f"all {len(journal)} poller requests used the environment key and succeeded")

    worker = anthropic.AsyncAnthropic(auth_token=key, base_url=BASE_URL, max_retries=0)
    page = await worker.beta.environments.work.list(env.id)
    states = [w.state for w in page.data]
    # The poller stops gracefully: stopping, then stopped after the grace.
    assert len(states) == 4 and all(s in ("stopping", "stopped") for s in states), states
    ok("list_work with the environment key: every item stopping or stopped")

    print(f"{CHECKS.passed} passed, 0 failed")


asyncio.run(main())
