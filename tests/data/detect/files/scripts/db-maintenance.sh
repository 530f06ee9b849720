#!/usr/bin/env bash
# Nightly maintenance of the portal database and cache.
set -euo pipefail

mysql -h db.internal -u portal -p'52IbFQ3pu8osIc' portal < migrate.sql
mysqldump --single-transaction -uportal -puqKMaxJd5IV7#4qt portal | gzip > /backup/portal.sql.gz
redis-cli -h cache.internal -a g7R9MnM28oUAkOueJ1gzwRtN FLUSHDB
redis-server --port 6380 --requirepass "M1DQtEaZIWzcYNMaeR" --daemonize yes

curl -sS https://acme.okta.com/api/v1/users \
  -H "Accept: application/json" \
  -H "Authorization: SSWS 00h9STFqCJrBoz-crm4XvAFWPD4fP7BrQLobX57ibW"
