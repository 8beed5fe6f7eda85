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
