#!/bin/sh
# Run once by the postgres image when it makes a new database folder
# (/docker-entrypoint-initdb.d): lets the `shop` user stream the log to a hot standby
# (docker-compose.yml's postgres-replica, in the `scale` profile).
set -e
echo "host replication ${POSTGRES_USER} all scram-sha-256" >> "$PGDATA/pg_hba.conf"
