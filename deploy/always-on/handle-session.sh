#!/bin/sh
# Runs once per session item (antenv worker poll --on-work). The variables
# ANTHROPIC_WORK_ID, ANTHROPIC_SESSION_ID, ANTHROPIC_ENVIRONMENT_ID and
# ANTHROPIC_ENVIRONMENT_KEY are set; the polled item is JSON on stdin. With
# --heartbeat the worker keeps the lease and sends SIGTERM when the item is
# stopping: end promptly then. Replace the body with your session runner.
set -eu
trap 'echo "session $ANTHROPIC_SESSION_ID: stopping" >&2; exit 0' TERM
echo "session $ANTHROPIC_SESSION_ID: serving work $ANTHROPIC_WORK_ID" >&2
cat > /dev/null
exec /opt/agent/bin/run-session
