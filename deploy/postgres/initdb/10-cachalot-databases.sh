#!/usr/bin/env bash
# One role and one database per CACHALOT service that owns tables.
#
# No service reads another's tables: each role owns only its database, and
# nobody else (PUBLIC) may connect to it. The official postgres image runs
# this once, on an empty data directory; it is idempotent, so after adding a
# service run it again by hand:
#   docker compose exec postgres bash /docker-entrypoint-initdb.d/10-cachalot-databases.sh
# Passwords come from the environment (<SERVICE>_DB_PASSWORD, see
# deploy/compose.env.example); they go into connection URLs, so use
# URL-safe values (`openssl rand -hex 32`).
set -euo pipefail

# database/role name  password variable
SERVICES=(
  "auth AUTH_DB_PASSWORD"
  "queue QUEUE_DB_PASSWORD"
  "notifier NOTIFIER_DB_PASSWORD"
  "publisher_tiktok PUBLISHER_TIKTOK_DB_PASSWORD"
  "publisher_youtube PUBLISHER_YOUTUBE_DB_PASSWORD"
  "publisher_vk PUBLISHER_VK_DB_PASSWORD"
  "publisher_instagram PUBLISHER_INSTAGRAM_DB_PASSWORD"
)

missing=()
for spec in "${SERVICES[@]}"; do
  read -r _ variable <<<"${spec}"
  [ -n "${!variable:-}" ] || missing+=("${variable}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "cachalot initdb: set ${missing[*]} (see deploy/compose.env.example)" >&2
  exit 1
fi

for spec in "${SERVICES[@]}"; do
  read -r name variable <<<"${spec}"
  # The password travels in the environment, not on psql's command line.
  INITDB_ROLE_PASSWORD="${!variable}" psql -v ON_ERROR_STOP=1 --no-psqlrc \
    --username "${POSTGRES_USER:-postgres}" --dbname postgres --set=name="${name}" <<'SQL'
\getenv password INITDB_ROLE_PASSWORD
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'name', :'password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'name') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'name', :'password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'name') \gexec
SELECT format('GRANT ALL ON DATABASE %I TO %I', :'name', :'name') \gexec
SQL
  echo "cachalot initdb: database and role ${name}"
done
