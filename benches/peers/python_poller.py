"""Items per second of the official Python SDK's poller (anthropic 2.10.0).

Usage: python python_poller.py BASE_URL ENVIRONMENT_ID N

Queues N items through the mock's control route, then drains them with
`anthropic.lib.environments.iter_work` (poll -> ack -> stop, no-op body)
and prints `items_per_sec=<float>`.
"""

import json
import sys
import time
import urllib.request

import anthropic
from anthropic.lib.environments import iter_work

base_url, environment_id, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    req = urllib.request.Request(
        f"{base_url}/_mock/environments/{environment_id}/work",
        data=json.dumps({"session_id": f"py_bench_{i}"}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(req).close()
client = anthropic.Anthropic(api_key="sk-ant-bench", base_url=base_url, max_retries=0)
start = time.perf_counter()
handled = 0
for _item in iter_work(client.beta.environments.work, environment_id=environment_id, drain=True, block_ms=None):
    handled += 1
elapsed = time.perf_counter() - start
assert handled == n, handled
print(f"items_per_sec={handled / elapsed:.0f}")
