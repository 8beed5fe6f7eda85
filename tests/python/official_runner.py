"""The official Python SDK's session runner serves a scripted session on the mock.

Usage: python official_runner.py BASE_URL WORKDIR

The mock checks credentials as the real API does. An administrator (API
key) creates a self-hosted environment and a skill version (a zip); the
control surface creates a session whose agent has that skill and queues a
`session` work item for it, then appends the agent's tool calls: bash
`echo`, write, read. The SDK's own worker (anthropic 2.15.0:
`EnvironmentWorker.handle_item` on an item its poller claimed, holding only
the environment key) serves the item: it heartbeats, installs the skill,
runs the calls in WORKDIR and posts their results. Once the three results
are in the session's history, the control surface appends an idle that ends
the turn, the runner stops after its idle time and the worker force-stops
the item. Prints one line per check and `N passed, 0 failed`; exits
non-zero on failure. This proves the mock speaks what the official runner
expects.
"""

import base64
import io
import json
import os
import sys
import urllib.request
import zipfile

import anyio

import anthropic

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mockctl  # noqa: E402
from anthropic.lib.environments import EnvironmentWorker

BASE_URL = sys.argv[1]
WORKDIR = sys.argv[2]


CHECKS = mockctl.Checks()
ok = CHECKS.ok


def control(method, path, body=None):
    return mockctl.control(BASE_URL, method, path, body)


def skill_zip():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes-skill/SKILL.md", "---\nname: notes-skill\n---\nTake notes.\n")
    return base64.b64encode(buffer.getvalue()).decode()


def history(session_id):
    events, page = [], None
    while True:
        query = "?limit=1000" + (f"&page={page}" if page else "")
        req = urllib.request.Request(
            f"{BASE_URL}/v1/sessions/{session_id}/events{query}",
            headers={
                "authorization": "Bearer sk-ant-api-python-admin",
                "anthropic-beta": "managed-agents-2026-04-01",
            },
        )
        with urllib.request.urlopen(req) as r:
            body = json.loads(r.read())
        events += body["data"]
        page = body.get("next_page")
        if not page:
            return events


async def main():
    admin = anthropic.AsyncAnthropic(api_key="sk-ant-api-python-admin", base_url=BASE_URL, max_retries=0)
    env = await admin.beta.environments.create(name="python-runner", config={"type": "self_hosted"})
    key = control("GET", f"/_mock/environments/{env.id}/key")["environment_key"]
    version = control(
        "POST",
        "/_mock/skills",
        {"skill_id": "skill_notes", "name": "notes-skill", "archive_base64": skill_zip()},
    )
    session = control(
        "POST",
        "/_mock/sessions",
        {
            "environment_id": env.id,
            "queue_work": True,
            "agent": {"skills": [{"type": "custom", "skill_id": "skill_notes", "version": "latest"}]},
        },
    )
    calls = control(
        "POST",
        f"/_mock/sessions/{session['id']}/events",
        {
            "events": [
                {"type": "agent.tool_use", "name": "bash", "input": {"command": "echo hello from bash"}},
                {
                    "type": "agent.tool_use",
                    "name": "write",
                    "input": {"file_path": "notes.txt", "content": "written by the agent\n"},
                },
                {"type": "agent.tool_use", "name": "read", "input": {"file_path": "notes.txt"}},
            ]
        },
    )["data"]
    ok("a session with a skill, a queued work item and three tool calls")

    client = anthropic.AsyncAnthropic(base_url=BASE_URL, auth_token=key, max_retries=2)
    worker = EnvironmentWorker(
        client,
        environment_id=env.id,
        environment_key=key,
        workdir=WORKDIR,
        max_idle=1.0,
        memory_sync_interval=None,
    )
    ids = [c["id"] for c in calls]

    async def serve():
        items = client.beta.environments.work.poller(
            environment_id=env.id, environment_key=key, auto_stop=False, drain=True, block_ms=None
        )
        async for item in items:
            await worker.handle_item(
                work_id=item.id,
                environment_id=item.environment_id,
                session_id=item.data.id,
                environment_key=key,
                work_secret=item.secret,
            )
            return item.id
        raise AssertionError("the poller found no item")

    async def end_the_turn_once_answered():
        await anyio.to_thread.run_sync(
            mockctl.wait_for_results, BASE_URL, session["id"], "sk-ant-api-python-admin", ids, abandon_on_cancel=True
        )
        control(
            "POST",
            f"/_mock/sessions/{session['id']}/events",
            {"events": [{"type": "session.status_idle", "stop_reason": {"type": "end_turn"}}]},
        )

    work_id = None
    with anyio.fail_after(60):
        async with anyio.create_task_group() as group:
            group.start_soon(end_the_turn_once_answered)
            work_id = await serve()
    ok("the SDK's worker served the item and returned")

    results = {e["tool_use_id"]: e for e in history(session["id"]) if e["type"] == "user.tool_result"}
    assert set(results) == set(ids), results
    assert all(r.get("is_error") is False for r in results.values()), results
    ok("one result per call, none an error")

    def text(result):
        return "".join(block.get("text", "") for block in result.get("content", []))

    assert "hello from bash" in text(results[ids[0]]), results[ids[0]]
    ok("bash ran the command in the sandbox")
    with open(os.path.join(WORKDIR, "notes.txt")) as f:
        assert f.read() == "written by the agent\n"
    ok("write created the file in the workdir")
    assert "written by the agent" in text(results[ids[2]]), results[ids[2]]
    ok("read returned the file's content")

    items = control("GET", f"/_mock/environments/{env.id}/work")
    item = next(i for i in items if i["id"] == work_id)
    assert item["state"] == "stopped", item
    ok("the worker force-stopped the item")

    journal = control("GET", "/_mock/requests")
    mine = [r for r in journal if r["caller"]["kind"] == "sessions_token"]
    operations = {r["operation"] for r in mine}
    for op in [
        "heartbeat_work",
        "retrieve_session",
        "retrieve_skill_version",
        "download_skill_version_content",
        "stream_session_events",
        "list_session_events",
        "send_session_events",
        "stop_work",
    ]:
        assert op in operations, (op, operations)
    assert all(r["status"] < 400 for r in mine), [(r["operation"], r["status"]) for r in mine if r["status"] >= 400]
    ok("every session, skill and lease call went out with the item's sessions token and succeeded")
    skills = [r for r in mine if r["operation"] == "download_skill_version_content"]
    assert skills and version["id"] in skills[0]["path"], skills
    ok("the skill was downloaded by its version id")
    await client.close()
    await admin.close()


try:
    anyio.run(main)
except Exception as e:
    import traceback

    traceback.print_exc()
    print(f"{CHECKS.passed} passed, 1 failed")
    sys.exit(1)
print(f"{CHECKS.passed} passed, 0 failed")
