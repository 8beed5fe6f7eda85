#!/bin/sh
# `antenv worker poll --hand-off --on-work`: starts one Kubernetes Job per
# session item (session-job.yaml, beside this script) through the API
# server, with the pod's service account. ANTENV_DRY_RUN=1 prints the Job
# instead of creating it.
set -eu
here=$(dirname "$0")
# The ids go into YAML: refuse anything but the characters ids use.
for id in "$ANTHROPIC_WORK_ID" "$ANTHROPIC_SESSION_ID" "$ANTHROPIC_ENVIRONMENT_ID"; do
  case "$id" in
    '' | *[!A-Za-z0-9_-]*) echo "refusing an unexpected id: '$id'" >&2; exit 1 ;;
  esac
done
# The lease the poller took: a timestamp, passed on to `worker run`.
case "${ANTHROPIC_WORK_LAST_HEARTBEAT:-}" in
  '' | *[!0-9A-Za-z:.+-]*) echo "refusing an unexpected last heartbeat: '${ANTHROPIC_WORK_LAST_HEARTBEAT:-}'" >&2; exit 1 ;;
esac
# A DNS name: the work id lowercased, and a random suffix (an item served
# again gets a new Job while the old one is kept for its logs).
suffix=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
job_name="antenv-$(printf '%s' "$ANTHROPIC_WORK_ID" | tr 'A-Z_' 'a-z-' | cut -c1-48)-$suffix"
manifest=$(sed -e "s/__JOB_NAME__/$job_name/g" \
  -e "s/__WORK_ID__/$ANTHROPIC_WORK_ID/g" \
  -e "s/__SESSION_ID__/$ANTHROPIC_SESSION_ID/g" \
  -e "s/__ENVIRONMENT_ID__/$ANTHROPIC_ENVIRONMENT_ID/g" \
  -e "s/__LAST_HEARTBEAT__/$ANTHROPIC_WORK_LAST_HEARTBEAT/g" \
  "${SESSION_JOB_TEMPLATE:-$here/session-job.yaml}")
if [ -n "${ANTENV_DRY_RUN:-}" ]; then
  printf '%s\n' "$manifest"
  exit 0
fi
sa=/var/run/secrets/kubernetes.io/serviceaccount
# The token goes to curl in a private file, never in its argv.
header=$(mktemp)
trap 'rm -f "$header"' EXIT
printf 'Authorization: Bearer %s\n' "$(cat "$sa/token")" > "$header"
printf '%s\n' "$manifest" | curl --fail-with-body --silent --show-error \
  --cacert "$sa/ca.crt" -H @"$header" -H 'Content-Type: application/yaml' \
  --data-binary @- \
  "https://kubernetes.default.svc/apis/batch/v1/namespaces/$POD_NAMESPACE/jobs" > /dev/null
echo "started Job $job_name for session $ANTHROPIC_SESSION_ID (work $ANTHROPIC_WORK_ID)" >&2
