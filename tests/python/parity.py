"""The official Python runner and ours serve the same scripted session and
post the same results.

Usage: python parity.py BASE_URL ANTENV

On the mock at BASE_URL, two sessions get the same agent tool calls (bash,
write, read, edit, glob, grep; successes and errors). The official SDK's own
worker (anthropic 2.15.0, EnvironmentWorker) serves the first; `ANTENV
worker poll --drain` (the session runner in-process) serves the second.
Each call's result must be the same: the same is_error and the same text
once each workdir is masked. Prints one line per call and `N passed, 0
failed`; exits non-zero on a difference.
"""

import json
import os
import subprocess
import sys
import tempfile
import urllib.request

import anyio

import anthropic
from anthropic.lib.environments import EnvironmentWorker

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mockctl  # noqa: E402

BASE_URL, ANTENV = sys.argv[1], sys.argv[2]
CHECKS = mockctl.Checks()
CALLS = [
    ("bash", {"command": "echo hi"}),
    ("bash", {"command": "echo oops; exit 3"}),
    ("bash", {"command": "exit 4"}),
    ("write", {"file_path": "a.txt", "content": "one\ntwo\ntwo\n"}),
    ("read", {"file_path": "a.txt"}),
    ("read", {"file_path": "a.txt", "view_range": [2, 3]}),
    ("read", {"file_path": "missing.txt"}),
    ("read", {"file_path": "../outside.txt"}),
    ("edit", {"file_path": "a.txt", "old_string": "one", "new_string": "uno"}),
    ("edit", {"file_path": "a.txt", "old_string": "two", "new_string": "dos"}),
    ("edit", {"file_path": "a.txt", "old_string": "zzz", "new_string": "x"}),
    ("glob", {"pattern": "**/*.txt"}),
    ("glob", {"pattern": "*.rs"}),
    ("grep", {"pattern": "uno"}),
    ("grep", {"pattern": "nomatch"}),
]


def control(method, path, body=None):
    return mockctl.control(BASE_URL, method, path, body)


def history(session_id):
    req = urllib.request.Request(
        f"{BASE_URL}/v1/sessions/{session_id}/events?limit=1000",
        headers={"authorization": "Bearer k", "anthropic-beta": "managed-agents-2026-04-01"},
    )
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())["data"]


def scripted_session(environment_id):
    session = control(
        "POST", "/_mock/sessions", {"environment_id": environment_id, "queue_work": True, "agent": {"skills": []}}
    )
    events = [{"type": "agent.tool_use", "name": name, "input": i} for name, i in CALLS]
    calls = control("POST", f"/_mock/sessions/{session['id']}/events", {"events": events})["data"]
    return session["id"], [c["id"] for c in calls]


async def end_once_answered(session_id, call_ids):
    await anyio.to_thread.run_sync(mockctl.wait_for_results, BASE_URL, session_id, "k", call_ids, abandon_on_cancel=True)
    control("POST", f"/_mock/sessions/{session_id}/events", {"events": [{"type": "session.status_terminated"}]})


def results(session_id, call_ids, workdir):
    posted = {e["tool_use_id"]: e for e in history(session_id) if e["type"] == "user.tool_result"}
    out = []
    for call_id in call_ids:
        r = posted[call_id]
        text = "".join(block.get("text", "") for block in r.get("content", []))
        out.append((r.get("is_error"), text.replace(os.path.realpath(workdir), "<WORKDIR>")))
    return out


async def main():
    admin = anthropic.AsyncAnthropic(api_key="k", base_url=BASE_URL)

    # The official runner.
    env = await admin.beta.environments.create(name="parity-python", config={"type": "self_hosted"})
    key = control("GET", f"/_mock/environments/{env.id}/key")["environment_key"]
    theirs_session, theirs_calls = scripted_session(env.id)
    theirs_dir = tempfile.mkdtemp()
    client = anthropic.AsyncAnthropic(base_url=BASE_URL, auth_token=key)
    worker = EnvironmentWorker(
        client, environment_id=env.id, environment_key=key, workdir=theirs_dir, max_idle=None, memory_sync_interval=None
    )
    with anyio.fail_after(60):
        async with anyio.create_task_group() as group:
            group.start_soon(end_once_answered, theirs_session, theirs_calls)
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
                break

    # Ours: antenv worker poll, in-process.
    env2 = await admin.beta.environments.create(name="parity-rust", config={"type": "self_hosted"})
    key2 = control("GET", f"/_mock/environments/{env2.id}/key")["environment_key"]
    ours_session, ours_calls = scripted_session(env2.id)
    ours_dir = tempfile.mkdtemp()
    environment = {
        **os.environ,
        "ANTHROPIC_BASE_URL": BASE_URL,
        "ANTHROPIC_ENVIRONMENT_ID": env2.id,
        "ANTHROPIC_ENVIRONMENT_KEY": key2,
        "RUST_LOG": "error",
    }
    proc = subprocess.Popen([ANTENV, "worker", "poll", "--drain", "--workdir", ours_dir], env=environment)
    with anyio.fail_after(60):
        await end_once_answered(ours_session, ours_calls)
    assert proc.wait(timeout=30) == 0, "antenv failed"

    theirs = results(theirs_session, theirs_calls, theirs_dir)
    ours = results(ours_session, ours_calls, ours_dir)
    for (name, call_input), their, our in zip(CALLS, theirs, ours):
        if (name, call_input) == ("bash", {"command": "exit 4"}) and their == (True, "BrokenResourceError()"):
            # The call before ended the official runner's shell (exit 3). When
            # it has not reaped that shell yet, it writes this command to the
            # dead shell's pipe and posts the write's error instead of its
            # "bash session terminated" text (a race of theirs; when reaped,
            # it posts the text ours does). Only is_error can agree.
            assert our[0] is True, f"{name} {call_input}: ours {our!r}"
            CHECKS.ok(f"{name} {json.dumps(call_input)}: is_error=True (the official runner lost its write race)")
            continue
        assert their == our, f"{name} {call_input}: theirs {their!r}, ours {our!r}"
        CHECKS.ok(f"{name} {json.dumps(call_input)}: is_error={our[0]} {our[1]!r}")
    await client.close()
    await admin.close()


try:
    anyio.run(main)
except Exception:
    import traceback

    traceback.print_exc()
    print(f"{CHECKS.passed} passed, 1 failed")
    sys.exit(1)
print(f"{CHECKS.passed} passed, 0 failed")
