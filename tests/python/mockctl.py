"""Shared by the Python scripts that drive the mock: one line per passed
check, and the mock's control surface over HTTP."""

import json
import urllib.request


class Checks:
    """Counts and prints passed checks (`ok LABEL`)."""

    def __init__(self):
        self.passed = 0

    def ok(self, label):
        self.passed += 1
        print(f"ok {label}")


def control(base_url, method, path, body=None):
    """Calls a control route (`/_mock/...`); its JSON answer, if any."""
    req = urllib.request.Request(
        f"{base_url}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"content-type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(req) as r:
        text = r.read()
        return json.loads(text) if text else None


class SessionStream:
    """A session's event stream on the mock: the history first, then each
    event as it is appended. Waiting on it waits for the events themselves
    (no polling). Blocking: from async code, call `results_for` in a thread.
    """

    def __init__(self, base_url, session_id, api_key, timeout=60):
        self._response = urllib.request.urlopen(
            urllib.request.Request(
                f"{base_url}/v1/sessions/{session_id}/events/stream",
                headers={
                    "authorization": f"Bearer {api_key}",
                    "anthropic-beta": "managed-agents-2026-04-01",
                    "accept": "text/event-stream",
                },
            ),
            timeout=timeout,
        )

    def results_for(self, tool_use_ids):
        """Reads on until every call in `tool_use_ids` has a
        `user.tool_result`; those results by call id."""
        wanted, found = set(tool_use_ids), {}
        for raw in self._response:
            line = raw.decode().rstrip("\r\n")
            if not line.startswith("data:"):
                continue
            event = json.loads(line[5:])
            if event.get("type") == "user.tool_result" and event.get("tool_use_id") in wanted:
                found[event["tool_use_id"]] = event
                if len(found) == len(wanted):
                    return found
        raise AssertionError(f"the stream ended with {len(found)} of {len(wanted)} results")

    def close(self):
        self._response.close()


def wait_for_results(base_url, session_id, api_key, tool_use_ids):
    """Blocks until every call in `tool_use_ids` has a result on the
    session's stream; those results by call id."""
    stream = SessionStream(base_url, session_id, api_key)
    try:
        return stream.results_for(tool_use_ids)
    finally:
        stream.close()
