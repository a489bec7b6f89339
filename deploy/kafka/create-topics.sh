#!/usr/bin/env bash
# Create CACHALOT's Kafka topics (DESIGN.md "Kafka topics"); safe to run again.
#
# Runs in the apache/kafka image (compose service `kafka-init`) or anywhere
# Kafka's CLI is installed:
#   KAFKA_BOOTSTRAP=broker:9092 KAFKA_REPLICATION_FACTOR=3 KAFKA_MIN_ISR=2 \
#     KAFKA_BIN=/path/to/kafka/bin bash deploy/kafka/create-topics.sh
# Partitions bound how far a consumer group scales: publish topics get 12 so
# `--scale publisher-<platform>=N` keeps every replica busy up to N=12.
# Partition counts only grow (Kafka cannot shrink them); keys are account or
# post ids, so raising them later moves keys between partitions.
set -euo pipefail

BOOTSTRAP="${KAFKA_BOOTSTRAP:-kafka:9092}"
REPLICATION="${KAFKA_REPLICATION_FACTOR:-1}"
MIN_ISR="${KAFKA_MIN_ISR:-1}"
KAFKA_BIN="${KAFKA_BIN:-/opt/kafka/bin}"
WEEK_MS=604800000
SESSIONS_RETENTION_MS=1296000000  # 15 days: longer than a session lives (14 days)
DLQ_RETENTION_MS=2592000000  # 30 days: time for an operator to look at poison messages

# topic  partitions  retention.ms
TOPICS=(
  "contact.submitted.v1 3 ${WEEK_MS}"
  "accounts.v1 6 ${WEEK_MS}"
  "sessions.v1 3 ${SESSIONS_RETENTION_MS}"
  "posts.publish.tiktok.v1 12 ${WEEK_MS}"
  "posts.publish.youtube.v1 12 ${WEEK_MS}"
  "posts.publish.instagram.v1 12 ${WEEK_MS}"
  "posts.publish.vk.v1 12 ${WEEK_MS}"
  "posts.publish.telegram.v1 12 ${WEEK_MS}"
  "posts.result.v1 12 ${WEEK_MS}"
  "posts.status.v1 6 ${WEEK_MS}"
  "proposals.v1 3 ${WEEK_MS}"
  "notify.v1 3 ${WEEK_MS}"
)

topics() { "${KAFKA_BIN}/kafka-topics.sh" --bootstrap-server "${BOOTSTRAP}" "$@"; }

for attempt in $(seq 1 30); do
  if topics --list >/dev/null 2>&1; then
    break
  fi
  if [ "${attempt}" -eq 30 ]; then
    echo "create-topics: Kafka at ${BOOTSTRAP} did not answer" >&2
    exit 1
  fi
  sleep 2
done

create() {
  local name="$1" partitions="$2" retention="$3"
  topics --create --if-not-exists --topic "${name}" \
    --partitions "${partitions}" --replication-factor "${REPLICATION}" \
    --config "retention.ms=${retention}" --config "min.insync.replicas=${MIN_ISR}" >/dev/null
  echo "create-topics: ${name} (${partitions} partitions)"
}

for spec in "${TOPICS[@]}"; do
  read -r name partitions retention <<<"${spec}"
  create "${name}" "${partitions}" "${retention}"
  # Undecodable messages of every topic go to <topic>.dlq with the original key.
  create "${name}.dlq" 1 "${DLQ_RETENTION_MS}"
done
