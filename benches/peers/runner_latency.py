"""Session runner round trips: ours (antenv, in-process) or the official
Python runner (anthropic's EnvironmentWorker), each in a process of its own
serving one scripted session on the mock.

Usage: python runner_latency.py BASE_URL rust|python [ANTENV] [CALLS]

The driver appends one trivial bash call at a time and waits for its
result on the session's event stream before the next; a call's round trip is its result's `processed_at`
minus the call's (the mock's clock, in microseconds): the stream's
delivery, the tool, the post. Prints `p50_ms=`, `p99_ms=` and `peak_rss_kib=` (the serving process's own
high-water resident set, VmHWM) lines.
"""

import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from datetime import datetime

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/python"))
import mockctl  # noqa: E402

BASE_URL, MODE = sys.argv[1], sys.argv[2]
ANTENV = sys.argv[3] if len(sys.argv) > 3 else None
CALLS = int(sys.argv[4]) if len(sys.argv) > 4 else 200

PYTHON_SERVER = """
import sys, anyio, anthropic
from anthropic.lib.environments import EnvironmentWorker
base, env, key, workdir = sys.argv[1:5]
async def main():
    client = anthropic.AsyncAnthropic(base_url=base, auth_token=key)
    worker = EnvironmentWorker(client, environment_id=env, environment_key=key, workdir=workdir,
                               max_idle=None, memory_sync_interval=None)
    async for item in client.beta.environments.work.poller(environment_id=env, environment_key=key,
                                                            auto_stop=False, drain=True, block_ms=None):
        await worker.handle_item(work_id=item.id, environment_id=item.environment_id,
                                 session_id=item.data.id, environment_key=key, work_secret=item.secret)
        break
anyio.run(main)
"""


def control(method, path, body=None):
    return mockctl.control(BASE_URL, method, path, body)


def api(method, path, body=None):
    req = urllib.request.Request(
        f"{BASE_URL}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            "authorization": "Bearer sk-ant-api-bench",
            "anthropic-beta": "managed-agents-2026-04-01",
            "content-type": "application/json",
        },
        method=method,
    )
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def stamp(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


env = api("POST", "/v1/environments", {"name": f"runner-{MODE}", "config": {"type": "self_hosted"}})["id"]
key = control("GET", f"/_mock/environments/{env}/key")["environment_key"]
session = control("POST", "/_mock/sessions", {"environment_id": env, "queue_work": True, "agent": {"skills": []}})["id"]
workdir = tempfile.mkdtemp()
if MODE == "rust":
    environment = {**os.environ, "ANTHROPIC_BASE_URL": BASE_URL, "ANTHROPIC_ENVIRONMENT_ID": env,
                   "ANTHROPIC_ENVIRONMENT_KEY": key, "RUST_LOG": "error"}
    server = subprocess.Popen([ANTENV, "worker", "poll", "--drain", "--max-idle", "0s", "--workdir", workdir],
                              env=environment)
else:
    server = subprocess.Popen([sys.executable, "-c", PYTHON_SERVER, BASE_URL, env, key, workdir])

# The driver waits on the session's own event stream (no polling, which
# would load the two shared cores), opened before the first call.
stream = mockctl.SessionStream(BASE_URL, session, "sk-ant-api-bench")

round_trips = []
for i in range(CALLS):
    call = control("POST", f"/_mock/sessions/{session}/events",
                   {"events": [{"type": "agent.tool_use", "name": "bash", "input": {"command": "true"}}]})["data"][0]
    result = stream.results_for([call["id"]])[call["id"]]
    round_trips.append(stamp(result["processed_at"]) - stamp(call["processed_at"]))

# The serving process's own high-water mark, read while it still runs. Not
# wait4's ru_maxrss: a child spawned by vfork + exec (as both subprocess and
# Rust's Command do) inherits its parent's high-water mark at exec, so the
# server's ru_maxrss is at least this driver's own (about 20 MiB).
with open(f"/proc/{server.pid}/status") as status_file:
    own_peak = next(int(line.split()[1]) for line in status_file if line.startswith("VmHWM:"))
control("POST", f"/_mock/sessions/{session}/events", {"events": [{"type": "session.status_terminated"}]})
_, status, _ = os.wait4(server.pid, 0)
if status != 0:
    raise SystemExit(f"the {MODE} runner exited with {status}")
round_trips.sort()
p50 = round_trips[len(round_trips) // 2] * 1000
p99 = round_trips[min(len(round_trips) - 1, int(len(round_trips) * 0.99))] * 1000
print(f"p50_ms={p50:.3f}")
print(f"p99_ms={p99:.3f}")
print(f"peak_rss_kib={own_peak}")
