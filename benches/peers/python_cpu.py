"""CPU time per request of the official Python SDK (anthropic 2.10.0).

Usage: python python_cpu.py BASE_URL ENVIRONMENT_ID N

Sends N `client.beta.environments.retrieve` calls, one after another, and
prints `cpu_us_per_request=<float>` (process CPU time, user + system).
"""

import sys
import time

import anthropic

base_url, environment_id, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
client = anthropic.Anthropic(api_key="sk-ant-bench", base_url=base_url, max_retries=0)
for _ in range(50):  # warm up: imports, connection pool, pydantic models
    client.beta.environments.retrieve(environment_id)
start = time.process_time()
for _ in range(n):
    env = client.beta.environments.retrieve(environment_id)
    assert env.id == environment_id
elapsed = time.process_time() - start
print(f"cpu_us_per_request={elapsed / n * 1e6:.1f}")
