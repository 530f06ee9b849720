#!/bin/sh
# Restore the reporting replica.
PGPASSWORD=kZ7FiYqpvPASbnUl pg_restore -h replica.internal -U report -d report /backup/report.dump
psql "host=replica.internal port=5432 dbname=report user=report password=PBOC209VzwF7%8jH sslmode=require" -c 'ANALYZE'
