#!/usr/bin/env python3
"""Writes the labelled detection corpus: realistic files holding fake secrets of real formats
(random, with correct checksums where the format has one) and look-alike files that hold none.
Run once from this directory; the output is committed. Seeded, so reruns give the same files."""
import base64, random, string, zlib, os, json

R = random.Random(20261127)
A62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
AN = string.ascii_letters + string.digits

def rnd(n, alphabet=AN):
    return ''.join(R.choice(alphabet) for _ in range(n))

def b62(n, width=6):
    out = ''
    while n:
        out = A62[n % 62] + out
        n //= 62
    return out.rjust(width, '0')

def checksummed(prefix):
    body = rnd(30)
    return prefix + body + b62(zlib.crc32(body.encode()) & 0xffffffff)

hexd = '0123456789abcdef'
def uuid():
    h = rnd(32, hexd)
    return f'{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}'

def b64(n):
    return base64.b64encode(bytes(R.getrandbits(8) for _ in range(n))).decode()

def pem(kind):
    body = b64(900)
    lines = '\n'.join(body[i:i+64] for i in range(0, len(body), 64))
    return f'-----BEGIN {kind}-----\n{lines}\n-----END {kind}-----\n'

def jwt():
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip('=')
    return enc({"alg": "HS256", "typ": "JWT"}) + '.' + enc({"sub": rnd(12), "iat": 1700000000}) + '.' + rnd(43, AN + '-_')

files = {}
expected = {}

def put(name, text, rules):
    files[name] = text
    expected[name] = rules

aws_id = 'AKIA' + rnd(16, string.ascii_uppercase + '234567')
aws_secret = rnd(40, AN + '/+')
put('python/settings.py', f'''"""Django settings for the billing service."""
import os

DEBUG = False
ALLOWED_HOSTS = ["billing.internal"]

SECRET_KEY = "django-insecure-{rnd(50, string.ascii_lowercase + string.digits + '!@#%^&*(-_=+)')}"

AWS_ACCESS_KEY_ID = "{aws_id}"
AWS_SECRET_ACCESS_KEY = "{aws_secret}"

STRIPE_SECRET_KEY = "sk_live_{rnd(99)}"
DATABASES = {{"default": {{"ENGINE": "django.db.backends.postgresql", "NAME": "billing"}}}}
''', ['aws-access-key-id', 'aws-secret-access-key', 'django-secret-key', 'stripe-access-token'])

put('js/config.js', f'''// Integration settings, loaded at boot.
module.exports = {{
  github: {{ owner: "acme", token: "{checksummed('ghp_')}" }},
  slack: {{ botToken: "xoxb-{rnd(12, string.digits)}-{rnd(13, string.digits)}-{rnd(24)}" }},
  openai: {{ apiKey: "sk-proj-{rnd(74, AN + '_-')}T3BlbkFJ{rnd(74, AN + '_-')}" }},
  retries: 3,
}};
''', ['github-pat', 'slack-bot-token', 'openai-api-key'])

put('ts/client.ts', f'''import Anthropic from "@anthropic-ai/sdk";

const ANTHROPIC_KEY = "sk-ant-api03-{rnd(93, AN + '_-')}AA";
export const client = new Anthropic({{ apiKey: ANTHROPIC_KEY }});

export const HF_TOKEN: string = "hf_{rnd(34, string.ascii_letters)}";
''', ['anthropic-api-key', 'huggingface-access-token'])

put('go/main.go', f'''package main

import "fmt"

const gitlabToken = "glpat-{rnd(20, AN + '_-')}"

func main() {{
	sendgrid := "SG.{rnd(22, AN + '_-')}.{rnd(43, AN + '_-')}"
	fmt.Println(len(gitlabToken), len(sendgrid))
}}
''', ['gitlab-pat', 'sendgrid-api-token'])

put('java/App.java', f'''package com.acme;

public class App {{
    // Service-to-service session issued by the auth server.
    private static final String SESSION = "{jwt()}";
    private static final String DATADOG_API_KEY = "{rnd(32, hexd)}";

    public static void main(String[] args) {{
        System.out.println(SESSION.length() + DATADOG_API_KEY.length());
    }}
}}
''', ['datadog-access-token', 'jwt'])

put('ruby/secrets.rb', f'''Rails.application.configure do
  config.secret_key_base = "{rnd(128, hexd)}"
  config.x.shopify.access_token = "shpat_{rnd(32, hexd)}"
end
''', ['rails-secret-key-base', 'shopify-access-token'])

put('php/mail.php', f'''<?php
return [
    'mailgun' => [
        'domain' => 'mg.acme.example',
        'secret' => 'key-{rnd(32, hexd)}',
    ],
    'square' => ['token' => 'EAAA{rnd(60, AN + '_-')}'],
];
''', ['mailgun-private-api-token', 'square-access-token'])

put('k8s/db-secret.yaml', f'''apiVersion: v1
kind: Secret
metadata:
  name: db-credentials
  namespace: billing
type: Opaque
data:
  password: {base64.b64encode(rnd(20).encode()).decode()}
''', ['kubernetes-secret-yaml'])

put('app/.env', f'''APP_NAME=billing
APP_ENV=production
APP_KEY=base64:{base64.b64encode(bytes(R.getrandbits(8) for _ in range(32))).decode()}
DATABASE_URL=postgres://billing:{rnd(18)}@db.internal:5432/billing
ZULIP_API_KEY={rnd(32)}
LOG_LEVEL=info
''', ['laravel-app-key', 'url-credentials', 'zulip-api-key'])

sa_key = pem('PRIVATE KEY').replace('\n', '\\n')
put('gcp/service-account.json', json.dumps({
    "type": "service_account",
    "project_id": "acme-billing",
    "private_key_id": rnd(40, hexd),
    "private_key": "PLACEHOLDER",
    "client_email": "deployer@acme-billing.iam.gserviceaccount.com",
}, indent=2).replace('"PLACEHOLDER"', '"' + sa_key + '"') + '\n', ['gcp-service-account-key'])

put('config/app.toml', f'''[server]
port = 8080

[payments]
api_token = "{rnd(40)}"
''', ['generic-api-key'])

put('web/.npmrc', f'''registry=https://registry.npmjs.org/
//registry.npmjs.org/:_authToken={checksummed('npm_')}
''', ['npm-access-token'])

put('scripts/deploy.sh', f'''#!/bin/sh
set -eu
curl -sf -u deployer:{rnd(16)} https://artifacts.acme.example/upload -T build.tar
echo "{'dckr_pat_' + rnd(27, AN + '_-')}" | docker login -u acme --password-stdin
''', ['curl-auth-user', 'dockerhub-pat'])

put('docker/Dockerfile', f'''FROM python:3.12-slim
ENV PIP_INDEX_URL=https://pypi.org/simple
ARG PYPI_TOKEN=pypi-AgEIcHlwaS5vcmc{rnd(70, AN + '_-')}
RUN pip install --no-cache-dir acme-billing
''', ['pypi-upload-token'])

put('infra/main.tf', f'''provider "digitalocean" {{
  token = "dop_v1_{rnd(64, hexd)}"
}}

resource "azurerm_mssql_server" "db" {{
  name                         = "billing-db"
  administrator_login          = "billing"
  administrator_login_password = "{rnd(20)}"
}}
''', ['digitalocean-pat', 'hashicorp-tf-password'])

put('bots/zuliprc', f'''[api]
email=deploy-bot@acme.zulipchat.com
key={rnd(32)}
site=https://acme.zulipchat.com
''', ['zulip-api-key-zuliprc'])

put('keys/id_rsa', pem('RSA PRIVATE KEY'), ['private-key'])
put('keys/deploy_ed25519', pem('OPENSSH PRIVATE KEY'), ['private-key'])

put('ci/gitlab-ci.yml', f'''stages: [release]
variables:
  RUNNER_TOKEN: "glrt-{rnd(20, AN + '_-')}"
  VAULT_TOKEN: "hvs.{rnd(90, AN + '_-')}"
release:
  script: ["stevedore release"]
''', ['gitlab-runner-authentication-token', 'vault-service-token'])

put('docs/storage.md', f'''# Storage

The reporting job reads blobs with this connection string:

    DefaultEndpointsProtocol=https;AccountName=acmereports;AccountKey={b64(64)};EndpointSuffix=core.windows.net
''', ['azure-storage-account-key'])

put('keys/backup.age', f'''# created: 2026-01-01T00:00:00Z
# public key: age1{rnd(58, 'qpzry9x8gf2tvdw0s3jn54khce6mua7l')}
AGE-SECRET-KEY-1{rnd(58, 'QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L')}
''', ['age-secret-key'])

put('gitlab/tokens.env', f"""# Tokens used by the release tooling (fake, for tests).
DEPLOY_TOKEN=gldt-{rnd(20, AN + '_-')}
TRIGGER_TOKEN=glptt-{rnd(40, hexd)}
FEED=glft-{rnd(20, AN + '_-')}
INCOMING_MAIL=glimt-{rnd(25, AN + '_-')}
SCIM=glsoat-{rnd(20, AN + '_-')}
JOB=glcbt-1f_{rnd(20, AN + '_-')}
OAUTH_APP=gloas-{rnd(64, AN + '_-')}
AGENT=glagent-{rnd(50, AN + '_-')}
REGISTRATION=GR1348941{rnd(20, AN + '_-')}
FLAGS=glffct-{rnd(20, AN + '_-')}
""", ['gitlab-cicd-job-token', 'gitlab-deploy-token', 'gitlab-feature-flag-client-token', 'gitlab-feed-token',
      'gitlab-incoming-mail-token', 'gitlab-kubernetes-agent-token', 'gitlab-oauth-app-secret', 'gitlab-ptt',
      'gitlab-runner-registration-token', 'gitlab-scim-token'])

put('chat/notify.py', f"""import requests

TELEGRAM_BOT = "{R.randint(100000000, 999999999)}:AA{rnd(33, AN + '_-')}"
DISCORD_HOOK = "https://discord.com/api/webhooks/{R.randint(10**17, 10**18)}/{rnd(68, AN + '_-')}"
SLACK_HOOK = "https://hooks.slack.com/services/T{rnd(10, string.ascii_uppercase + string.digits)}/B{rnd(10, string.ascii_uppercase + string.digits)}/{rnd(24)}"
twilio_auth_token = "{rnd(32, hexd)}"

def notify(text):
    requests.post(SLACK_HOOK, json={{"text": text}}, timeout=5)
""", ['discord-webhook-url', 'slack-webhook-url', 'telegram-bot-api-token', 'twilio-auth-token'])

put('observability/agent.yaml', f"""grafana:
  url: https://acme.grafana.net
  token: glsa_{rnd(32)}_{rnd(8, hexd)}
cloud:
  access_policy: glc_{rnd(80, AN + '+/')}
sentry:
  dsn: https://{rnd(32, hexd)}@o{R.randint(100000, 999999)}.ingest.sentry.io/{R.randint(1000000, 9999999)}
newrelic:
  api_key: NRAK-{rnd(27, string.ascii_uppercase + string.digits)}
""", ['grafana-cloud-api-token', 'grafana-service-account-token', 'newrelic-user-api-key'])  # a DSN with only the public key is public (issue 19)

put('ai/.env', f"""GROQ_API_KEY=gsk_{rnd(52)}
REPLICATE_API_TOKEN=r8_{rnd(37)}
PERPLEXITY_API_KEY=pplx-{rnd(48)}
HF_ORG_TOKEN=api_org_{rnd(34, string.ascii_letters)}
""", ['groq-api-key', 'huggingface-organization-api-token', 'perplexity-api-key', 'replicate-api-token'])

put('azure/appsettings.json', json.dumps({
    "AzureAd": {"Instance": "https://login.microsoftonline.com/", "ClientId": uuid(),
                "ClientSecret": rnd(3, AN) + "8Q~" + rnd(34, AN + '_~.-')},
    "Reports": {"BlobUrl": "https://acmereports.blob.core.windows.net/exports?sv=2022-11-02&ss=b&srt=o&sp=r&se=2026-12-31T00:00:00Z&sig=" + b64(32).replace('=', '%3D')},
}, indent=2) + '\n', ['azure-ad-client-secret', 'azure-sas-token'])

put('keys/deploy.ppk', 'PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: deploy@ci\nPublic-Lines: 2\n' + b64(51) + '\n' + b64(10) + '\nPrivate-Lines: 1\n' + b64(48) + '\nPrivate-MAC: ' + rnd(64, hexd) + '\n', ['putty-private-key'])

put('keys/signing.asc', pem('PGP PRIVATE KEY BLOCK'), ['pgp-private-key-block'])

put('cloud/heroku.sh', f"""#!/bin/sh
export HEROKU_API_KEY=HRKU-AA{rnd(58, AN + '_-')}
export ALIBABA_CLOUD_ACCESS_KEY_ID=LTAI{rnd(20)}
heroku releases -a billing
""", ['alibaba-access-key-id', 'heroku-api-key-v2'])

# ---- look-alikes: no findings expected ----
put('negative/placeholders.py', '''# Examples from the docs: none of these are secrets.
AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GITHUB_TOKEN = "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
api_key = "<your-key>"
api_token = "your_api_key_here"
password = "changeme"
db_password = "${DB_PASSWORD}"
secret = os.environ["APP_SECRET"]
token = os.getenv("API_TOKEN")
client_secret = "****************"
''', [])

put('negative/templates.yaml', '''apiVersion: v1
kind: ConfigMap
metadata:
  name: app
data:
  password: "{{ .Values.db.password }}"
  api_key: $(cat /run/secrets/api_key)
  token: ${API_TOKEN}
  auth_token: env('AUTH_TOKEN')
''', [])

put('negative/server.js', '''const apiToken = process.env.API_TOKEN;
const secretKey = config.get("secretKey");
const stripe = require("stripe")(process.env.STRIPE_SECRET_KEY);
const publishableKey = "pk_live_''' + rnd(99) + '''";
''', [])

put('negative/package-lock.json', json.dumps({
    "name": "web", "lockfileVersion": 3, "packages": {
        "node_modules/left-pad": {
            "version": "1.3.0",
            "resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz",
            "integrity": "sha512-" + b64(64),
        },
        "node_modules/token-stream": {
            "version": "1.0.0",
            "integrity": "sha512-" + b64(64),
        },
    }}, indent=2) + '\n', [])

put('negative/go.sum', '\n'.join(
    f'github.com/acme/{n} v1.{i}.0 h1:{b64(32)}' for i, n in enumerate(['auth', 'token', 'secretstore'])) + '\n', [])

put('negative/Cargo.lock', ''.join(f'''[[package]]
name = "{n}"
version = "0.{i}.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "{rnd(64, hexd)}"

''' for i, n in enumerate(['keyring', 'token-parser', 'secret-service'])), [])

put('negative/public.pem', '-----BEGIN PUBLIC KEY-----\n' + '\n'.join(b64(294)[i:i+64] for i in range(0, 392, 64)) + '\n-----END PUBLIC KEY-----\n', [])

put('negative/authorized_keys', f'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{rnd(43)} deploy@ci\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ{rnd(300, AN + "+/")} ops@laptop\n', [])

put('negative/ids.yaml', f'''release:
  commit: {rnd(40, hexd)}
  image: registry.acme.example/billing@sha256:{rnd(64, hexd)}
  request_id: {uuid()}
  tenant_key_id: {uuid()}
  idempotency_key: {uuid()}
  checksum: sha256:{rnd(64, hexd)}
''', [])

put('negative/keys.rs', '''use std::collections::HashMap;

/// Counts tokens per key.
pub fn count(tokens: &[String]) -> HashMap<&str, usize> {
    let mut by_key = HashMap::new();
    for token in tokens {
        let key = token.as_str();
        *by_key.entry(key).or_insert(0) += 1;
    }
    let primary_key = "users_pkey_idx_v2";
    let _sort_key = format!("{primary_key}:{}", by_key.len());
    by_key
}
''', [])

put('negative/test_fixtures.py', '''import pytest

@pytest.fixture
def fake_credentials():
    return {"username": "alice", "password": "password", "token": "dummy-token-for-tests"}

def test_login(client, fake_credentials):
    assert client.login(**fake_credentials)
''', [])

put('negative/allowed.env', f'''# A deliberate test key, allowed inline.
TEST_API_TOKEN={rnd(40)} # stevedore:allow
LEGACY_SECRET={rnd(40)} # gitleaks:allow
''', [])

put('negative/docs.md', '''Set `GITLAB_TOKEN` to a personal access token (it starts with `glpat-`), and
`SLACK_WEBHOOK` to `https://hooks.slack.com/services/T000/B000/XXXX`.
Connect with `postgres://user:password@localhost:5432/app` in development.
''', [])

# Look-alikes met in real code (Go's own test suite and others): identifiers and expressions
# assigned to key-like names, lookup keys, values a test marks as wrong, edited hex, passwords
# that spell "password", URLs to documentation hosts, base64 test data.
put('negative/lookalikes_test.go', f'''package auth

func TestRejects(t *testing.T) {{
	cfg := Config{{
		PrivateKey:  testP256PrivateKey,
		hexKey: hexPKCS8TestPKCS1Key,
	}}
	uniqueKey=key+nextIndex;
	nonMatchingToken := "{rnd(16, string.ascii_lowercase + string.digits)}"
	invalidToken := "{rnd(24)}"
	meraki_api_key := "{rnd(20, hexd)}F{rnd(19, hexd)}"
	other_api_key := "{rnd(64, hexd)}R21"
	telegram_api_token := "4196:A{rnd(34)}"
	secret := "s3cr3t-value"
	assertEqual(t, got.secret, "key=tok_{rnd(8)}")
	req.Header.Set("Cookie", "blob-key={rnd(120, AN + "_-")}")
	u, _ := url.Parse("http://user:p%40ssword@proxy.internal/")
	v, _ := url.Parse("http://My%20User:My%20Pass@dummy.faketld/")
	w, _ := url.Parse("https://deploy:{rnd(16)}@git.example.com/repo.git")
}}
''', [])

put('negative/testdata/a.elf.base64', 'f0VMRgIBAQAAAAAAAAAAAAIAPgABAAAA\n' + 'A' * 40 + rnd(300, AN) + '\n', [])

put('negative/truncated_jwt.ts', 'const header = "Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiJ9.' + rnd(24, AN + '_-') + '";\n', [])

put('negative/dist-info/RECORD', ''.join(
    f'pkg/mod_{i}.py,sha256=x{rnd(1)}_{rnd(6)}{"ASIA" if i == 3 else rnd(4)}{rnd(30)},{R.randint(100, 9999)}\n'
    for i in range(8)), [])

put('negative/vendor.js', '''function parse(dollarToken) {
    dollarToken = +dollarToken;
    return dollarToken;
}
''', [])

# True cases beside them: a Drone CI token under its `droneci` name, a percent-encoded password.
put('ci/drone.env', f'''DRONE_SERVER=https://drone.internal
DRONECI_TOKEN={rnd(32)}
''', ['droneci-access-token'])

put('app/database.yml', f'''production:
  url: postgres://app:{rnd(14)}%21{rnd(6)}@db.internal:5432/app
''', ['url-credentials'])

put('chat/RUNBOOK.md', f'''# Alerts

The on-call Telegram bot: {R.randint(10**8, 10**9 - 1)}:A{rnd(34, AN + "_-")} (rotate after the incident).
''', ['telegram-bot-token-in-text'])


# Issue 14.3: credentials in config formats and in base64.
def b64s(t):
    return base64.b64encode(t.encode()).decode()

reg_pw = rnd(18)
put('docker/config.json', json.dumps({"auths": {"registry.gitlab.com": {"auth": b64s("deploy-bot:" + reg_pw)}},
                                      "credsStore": ""}, indent=2) + '\n', ['docker-config-auth'])
put('ci/registry.gitlab-ci.yml', f'''variables:
  DOCKER_AUTH_CONFIG: '{{"auths":{{"registry.internal:5000":{{"auth":"{b64s("ci:" + rnd(22))}"}}}}}}'
''', ['docker-config-auth'])
put('home/.netrc', f'''machine ftp.internal login backup password {rnd(16)}
machine api.heroku.com
  login ops@acme.io
  password {uuid()}
''', ['heroku-api-key-netrc', 'netrc-password'])
put('home/_netrc', f'''machine git.acme.io
login deploy
password {rnd(12)}!{rnd(4)}
''', ['netrc-password'])
put('home/.git-credentials', f'''https://deploy:{checksummed('ghp_')}@github.com
https://oauth2:{rnd(20)}@gitlab.acme.io
''', ['github-pat', 'url-credentials'])
put('home/.pypirc', f'''[distutils]
index-servers = internal

[internal]
repository = https://pypi.acme.io/
username = uploader
password = {rnd(10)}#{rnd(5)}
''', ['pypirc-password'])
put('home/pip.conf', f'''[global]
index-url = https://reader:{rnd(16)}@pypi.acme.io/simple
''', ['url-credentials'])
stripe = 'sk_live_' + rnd(99)
put('k8s/payments-secret.yaml', f'''apiVersion: v1
kind: Secret
metadata:
  name: payments
type: Opaque
data:
  username: {b64s("payments")}
  STRIPE_SECRET_KEY: {b64s(stripe)}
  api-password: {b64s(rnd(14) + "%" + rnd(3))}
''', ['kubernetes-secret-yaml', 'stripe-access-token'])
docker_cfg = json.dumps({"auths": {"registry.acme.io": {"auth": b64s("puller:" + rnd(20))}}})
put('k8s/pull-secret.yaml', f'''apiVersion: v1
kind: Secret
type: kubernetes.io/dockerconfigjson
metadata:
  name: regcred
data:
  .dockerconfigjson: {b64s(docker_cfg)}
''', ['docker-config-auth'])
slack = "xoxb-" + rnd(12, string.digits) + "-" + rnd(13, string.digits) + "-" + rnd(24)
put('helm/values.yaml', f'''replicaCount: 2
# The app's environment file, base64 as the chart expects.
envFileB64: {b64s("DEBUG=false" + chr(10) + "SLACK_BOT=" + slack + chr(10))}
''', ['slack-bot-token'])
# Decoys: a Secret of public and placeholder values, base64 images, SRI and lockfile digests.
cert_pem = pem('CERTIFICATE')
put('negative/k8s-public-secret.yaml', f'''apiVersion: v1
kind: Secret
metadata:
  name: public-bits
data:
  username: {b64s("admin")}
  password: {b64s("changeme")}
  tls.crt: {b64s(cert_pem)}
  id_rsa.pub: {b64s("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + rnd(43) + " ops@acme")}
  database: {b64s("billing_production")}
''', [])
put('negative/assets.html', f'''<img src="data:image/png;base64,{b64(600)}">
<script src="/app.js" integrity="sha384-{b64(48)}" crossorigin="anonymous"></script>
<link rel="stylesheet" href="/a.css" integrity="sha512-{b64(64)}">
''', [])
put('negative/yarn.lock', f'''"left-pad@^1.3.0":
  version "1.3.0"
  resolved "https://registry.yarnpkg.com/left-pad/-/left-pad-1.3.0.tgz"
  integrity sha512-{b64(64)}
''', [])
put('negative/docker-config.json', json.dumps({"auths": {"registry.example.com": {"auth": b64s("user:password")}, "ghcr.io": {"auth": b64s("me:${GHCR_TOKEN}")}}}, indent=2) + '\n', [])
put('negative/.netrc', '''machine api.internal login deploy password $DEPLOY_TOKEN
machine example.com login me password changeme
''', [])


# Issue 19: what real repositories hold. Labels may carry `@LINE`: the finding's line is checked too.
def line_of(text, needle):
    return text[:text.index(needle)].count('\n') + 1

def at(rule, text, needle):
    return f'{rule}@{line_of(text, needle)}'

# Command lines in scripts and runbooks (rules of the previous session, now in the corpus).
my_pw, dump_pw, redis_pw, cli_pw = rnd(14), rnd(12) + '#' + rnd(3), rnd(24), rnd(18)
okta = '00' + rnd(40, AN + '_-')
drf = rnd(40, hexd)
t = f"""#!/usr/bin/env bash
# Nightly maintenance of the portal database and cache.
set -euo pipefail

mysql -h db.internal -u portal -p'{my_pw}' portal < migrate.sql
mysqldump --single-transaction -uportal -p{dump_pw} portal | gzip > /backup/portal.sql.gz
redis-cli -h cache.internal -a {redis_pw} FLUSHDB
redis-server --port 6380 --requirepass "{cli_pw}" --daemonize yes

curl -sS https://acme.okta.com/api/v1/users \\
  -H "Accept: application/json" \\
  -H "Authorization: SSWS {okta}"
"""
put('scripts/db-maintenance.sh', t,
    [at('mysql-password-argument', t, my_pw), at('mysql-password-argument', t, dump_pw),
     at('redis-password', t, redis_pw), at('redis-password', t, cli_pw),
     at('authorization-token-scheme', t, okta)])
redis_url_pw = rnd(20)
t = f"""import requests

CACHE_URL = "redis://:{redis_url_pw}@cache.internal:6379/0"

def tickets():
    return requests.get(
        "https://support.acme.io/api/tickets",
        headers={{"Authorization": "Token {drf}"}},
    ).json()
"""
sentry_secret = rnd(32, hexd)
t += f'''
# The legacy DSN form carries the secret key after the public one.
SENTRY_DSN = "https://{rnd(32, hexd)}:{sentry_secret}@o{R.randint(100000, 999999)}.ingest.sentry.io/{R.randint(1000000, 9999999)}"
'''
put('python/jobs.py', t, [at('authorization-token-scheme', t, drf), at('url-credentials', t, redis_url_pw),
                          at('sentry-dsn', t, sentry_secret)])
heroku_key = uuid()
t = f"""provider "heroku" {{
  email   = "ops@acme.io"
  api_key = "{heroku_key}"
}}

resource "heroku_app" "portal" {{
  name   = "acme-portal"
  region = "eu"
}}
"""
put('infra/heroku.tf', t, [at('heroku-api-key-terraform', t, heroku_key)])

# Multi-line keys: located at the BEGIN line; a match that starts with the previous line's newline
# is located on the value's line.
key_block = pem('OPENSSH PRIVATE KEY')
indented = ''.join('      ' + l + '\n' for l in key_block.splitlines())
drone_tok = rnd(32)
t = f"""deploy:
  stage: deploy
  variables:
    SSH_HOST: app.internal
  script:
    - |
      cat > ~/.ssh/id_ed25519 <<'KEY'
{indented}      KEY
"""
put('ci/deploy-key.gitlab-ci.yml', t, [at('private-key', t, '-----BEGIN OPENSSH')])
t = f"""# Drone runner
DRONE_RPC_HOST=drone.internal
DRONECI_TOKEN={drone_tok}
"""
put('ci/runner.env', t, [at('droneci-access-token', t, drone_tok)])

# Service configuration: docker-compose environment as a list and as a map.
rabbit_pw, pg_pw, minio_pw = rnd(16), rnd(12) + '!' + rnd(4), rnd(20)
t = f"""services:
  queue:
    image: rabbitmq:3-management
    environment:
      - RABBITMQ_DEFAULT_USER=portal
      - RABBITMQ_DEFAULT_PASS={rabbit_pw}
      - RABBITMQ_DEFAULT_VHOST=/
  db:
    image: postgres:16
    environment:
      POSTGRES_USER: portal
      POSTGRES_PASSWORD: "{pg_pw}"
      POSTGRES_DB: portal
  storage:
    image: minio/minio
    environment:
      - "MINIO_ROOT_USER=admin"
      - "MINIO_ROOT_PASSWORD={minio_pw}"
      - MINIO_BROWSER_REDIRECT_URL=https://console.acme.io
"""
put('docker/docker-compose.yml', t,
    [at('compose-environment-secret', t, rabbit_pw), at('compose-environment-secret', t, pg_pw),
     at('compose-environment-secret', t, minio_pw)])

# .NET: Web.config appSettings and connection strings; appsettings.json secret-named keys.
stripe_live = 'sk_live_' + rnd(24)
signing = rnd(32, AN + '+/')
sql_pw = rnd(14)
t = f"""<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <appSettings>
    <add key="webpages:Version" value="3.0.0.0" />
    <add key="Environment" value="Production" />
    <add key="JwtSigningSecret" value="{signing}" />
    <add key="PaymentsApiKey" value="{stripe_live}" />
    <add key="ClientValidationEnabled" value="true" />
  </appSettings>
  <connectionStrings>
    <add name="Portal" connectionString="Server=sql.internal;Database=Portal;User Id=portal;Password={sql_pw};" providerName="System.Data.SqlClient" />
  </connectionStrings>
</configuration>
"""
put('dotnet/Web.config', t,
    [at('dotnet-app-setting-secret', t, signing), at('stripe-access-token', t, stripe_live),
     at('connection-string-password', t, sql_pw)])
sendgrid_like = rnd(40, AN + '_-')
jwt_key = rnd(48, AN)
pg_conn_pw = rnd(16)
t = f"""{{
  "Logging": {{ "LogLevel": {{ "Default": "Information" }} }},
  "ConnectionStrings": {{
    "Default": "Host=pg.internal;Database=portal;Username=portal;Password={pg_conn_pw}"
  }},
  "Jwt": {{
    "Issuer": "https://portal.acme.io",
    "SigningKey": "{jwt_key}"
  }},
  "Mail": {{
    "ApiKey": "{sendgrid_like}",
    "From": "noreply@acme.io"
  }},
  "AllowedHosts": "*"
}}
"""
put('dotnet/appsettings.Production.json', t,
    [at('connection-string-password', t, pg_conn_pw), at('generic-api-key', t, jwt_key),
     at('generic-api-key', t, sendgrid_like)])

# Pusher: the app secret is found by its context, the app key is public.
pusher_secret = rnd(20, hexd)
t = f"""APP_NAME=Portal
BROADCAST_DRIVER=pusher
PUSHER_APP_ID={R.randint(1000000, 1999999)}
PUSHER_APP_KEY={rnd(20, hexd)}
PUSHER_APP_SECRET={pusher_secret}
PUSHER_APP_CLUSTER=eu
VITE_PUSHER_APP_KEY="${{PUSHER_APP_KEY}}"
"""
put('php/.env.production', t, [at('pusher-app-secret', t, pusher_secret)])

# Public by design, and ids, cache and lock keys: no finding.
vapid_pub = 'B' + rnd(86, AN + '-_')
mapbox_pk = 'pk.eyJ1IjoiYWNtZS1tYXBzIiwiYSI6I' + rnd(29) + '.' + rnd(22, AN + '-_')
put('negative/public-client.js', f"""// Values shipped to every browser: public by design.
export const config = {{
  vapidPublicKey: "{vapid_pub}",
  mapboxAccessToken: "{mapbox_pk}",
  sentryDsn: "https://{rnd(32, hexd)}@o{R.randint(100000, 999999)}.ingest.sentry.io/{R.randint(1000000, 9999999)}",
  pusherKey: "{rnd(20, hexd)}",
  pusherCluster: "eu",
}};

navigator.serviceWorker.ready.then((reg) =>
  reg.pushManager.subscribe({{
    userVisibleOnly: true,
    applicationServerKey: urlBase64ToUint8Array("{vapid_pub}"),
  }}),
);
mapboxgl.accessToken = "{mapbox_pk}";
""", [])
put('negative/.env.example', f"""# Copy to .env and fill in. Test-mode keys of the shared sandbox account.
STRIPE_KEY=pk_test_{rnd(24)}
STRIPE_SECRET=sk_test_{rnd(24)}
PUSHER_APP_KEY={rnd(20, hexd)}
VAPID_PUBLIC_KEY={vapid_pub}
MAPBOX_TOKEN={mapbox_pk}
APP_ID={uuid()}
""", [])
put('negative/ids-and-keys.py', f"""HEROKU_APP_ID = "{uuid()}"
SNYK_ORG_ID = "{uuid()}"
CODECOV_REPO_ID = "{uuid()}"
app_id = "{uuid()}"
tenant_id = "{uuid()}"

CACHE_KEY = "deps-{rnd(40, hexd)}"
LOCK_KEY = "migrations:lock:{rnd(32, hexd)}"
lock_key = f"deploy-lock-{rnd(24, hexd)}"
rate_limit_key = "rl:{rnd(24, hexd)}"
IDEMPOTENCY_KEY = "{uuid()}"

def cache_for(build):
    redis_lock_key = "lock/{rnd(32, hexd)}"
    return redis_lock_key
""", [])


# Database dumps and data exports: values named by their column.
def bcrypt():
    return '$2y$10$' + rnd(53, AN + './')
k_mail, k_sms, hook_tok, reset_tok = rnd(40), rnd(32, hexd), rnd(28), rnd(48)
t = f"""-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)
--
-- Host: db.internal    Database: portal
-- ------------------------------------------------------
/*!40101 SET NAMES utf8mb4 */;

DROP TABLE IF EXISTS `integrations`;
CREATE TABLE `integrations` (
  `id` int NOT NULL AUTO_INCREMENT,
  `provider` varchar(64) NOT NULL,
  `api_key` varchar(255) DEFAULT NULL,
  `settings` json DEFAULT NULL,
  `public_key` varchar(255) DEFAULT NULL,
  `created_at` timestamp NULL DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

LOCK TABLES `integrations` WRITE;
INSERT INTO `integrations` VALUES (1,'mailer','{k_mail}','{{\\"region\\":\\"eu-west-1\\",\\"retries\\":3}}','{rnd(44, AN + "+/")}=','2026-01-04 10:00:00'),(2,'maps',NULL,'{{\\"style\\":\\"streets-v12\\"}}',NULL,'2026-01-04 10:00:00');
INSERT INTO `integrations` VALUES (3,'sms','{k_sms}','{{\\"sender\\":\\"ACME\\",\\"webhook_token\\":\\"{hook_tok}\\"}}',NULL,'2026-02-11 08:30:00');
UNLOCK TABLES;

LOCK TABLES `users` WRITE;
INSERT INTO `users` (`id`, `email`, `password`, `remember_token`, `password_reset_token`, `name`) VALUES
  (1,'ana@acme.io','{bcrypt()}',NULL,NULL,'Ana Souza'),
  (2,'li@acme.io','{bcrypt()}',NULL,'{reset_tok}','Li Wei'),
  (3,'it''s@acme.io','{bcrypt()}',NULL,NULL,'O''Brien');
UNLOCK TABLES;
"""
put('dumps/portal.sql', t,
    [at('generic-api-key', t, k_mail), at('generic-api-key', t, k_sms), at('generic-api-key', t, hook_tok),
     at('generic-api-key', t, reset_tok)])
client_secret = rnd(40, AN + '_-')
t = f"""--
-- PostgreSQL database dump
--
SET statement_timeout = 0;

COPY public.oauth_clients (id, name, client_id, client_secret, redirect_uri) FROM stdin;
1\tportal\t{uuid()}\t{client_secret}\thttps://portal.acme.io/callback
2\tmobile\t{uuid()}\t\\N\thttps://m.acme.io/callback
\\.

COPY public.audit_log (id, actor, action, payload) FROM stdin;
1\tana\tlogin\t{{"ip": "10.0.0.4", "session": "{rnd(8)}"}}
\\.
"""
put('dumps/auth.pgdump.sql', t, [at('generic-api-key', t, client_secret)])
csv_tokens = [rnd(40) for _ in range(2)]
t = 'id,email,plan,api_token,created_at\n' + \
    f'1,ana@acme.io,pro,{csv_tokens[0]},2026-01-04\n' + \
    '2,li@acme.io,free,,2026-01-05\n' + \
    f'3,"Wei, Li",team,"{csv_tokens[1]}",2026-01-06\n'
put('exports/customers.csv', t, [at('generic-api-key', t, csv_tokens[0]), at('generic-api-key', t, csv_tokens[1])])
put('negative/exports/orders.csv', f"""order_id,customer_id,payment_intent,token_count,public_key,password
{R.randint(10**6, 10**7)},{uuid()},pi_{rnd(24)},{R.randint(1, 900)},{rnd(44, AN + "+/")}=,{bcrypt()}
{R.randint(10**6, 10**7)},{uuid()},pi_{rnd(24)},{R.randint(1, 900)},{rnd(44, AN + "+/")}=,
""", [])
put('negative/seed-users.sql', f"""INSERT INTO users (id, email, password, api_token) VALUES
  (1, 'dev@acme.io', '{bcrypt()}', NULL),
  (2, 'qa@acme.io', 'pbkdf2_sha256$600000${rnd(22)}${rnd(43, AN + "+/")}=', 'changeme'),
  (3, 'ops@acme.io', '{rnd(64, hexd)}', '${{API_TOKEN}}');
""", [])

# psql connection strings and PGPASSWORD; bearer tokens in logged request/response JSON.
pgpw1, pgpw2 = rnd(16), rnd(12) + '%' + rnd(3)
t = f"""#!/bin/sh
# Restore the reporting replica.
PGPASSWORD={pgpw1} pg_restore -h replica.internal -U report -d report /backup/report.dump
psql "host=replica.internal port=5432 dbname=report user=report password={pgpw2} sslmode=require" -c 'ANALYZE'
"""
put('scripts/restore-replica.sh', t, [at('postgres-pgpassword', t, pgpw1), at('postgres-connection-password', t, pgpw2)])
bearer_log = rnd(40, AN + '-_')
access_tok, refresh_tok = rnd(43, AN + '-_'), rnd(43, AN + '-_')
t = f"""2026-11-30T10:02:11Z INFO http.client request {{"method":"GET","url":"https://api.partner.io/v2/orders","headers":{{"Accept":"application/json","Authorization":"Bearer {bearer_log}"}}}}
2026-11-30T10:02:12Z INFO http.client response {{"status":200,"elapsed_ms":231,"body":"{{\\"orders\\":[],\\"next\\":null}}"}}
2026-11-30T10:05:40Z DEBUG oauth token response {{"status":200,"body":"{{\\"access_token\\":\\"{access_tok}\\",\\"token_type\\":\\"Bearer\\",\\"expires_in\\":3600,\\"refresh_token\\":\\"{refresh_tok}\\"}}"}}
"""
put('logs/partner-api.log', t,
    [at('authorization-bearer', t, bearer_log), at('generic-api-key', t, access_tok), at('generic-api-key', t, refresh_tok)])

# A notebook that printed secrets in its outputs.
nb_pw, nb_key, nb_tok = rnd(18), rnd(32), checksummed('ghp_')
cells = [
    {"cell_type": "markdown", "metadata": {}, "source": ["# Churn analysis\n"]},
    {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [
        {"name": "stdout", "output_type": "stream", "text": ["connected to warehouse\n", "{\"api_key\": \"" + nb_key + "\", \"region\": \"eu\"}\n"]}],
     "source": ["import json, os\n", "print('connected to warehouse')\n", "print(json.dumps(cfg))"]},
    {"cell_type": "code", "execution_count": 2, "metadata": {}, "outputs": [
        {"data": {"text/plain": ["'" + nb_pw + "'"]}, "execution_count": 2, "metadata": {}, "output_type": "execute_result"}],
     "source": ["os.environ[\"WAREHOUSE_PASSWORD\"]"]},
    {"cell_type": "code", "execution_count": 3, "metadata": {}, "outputs": [
        {"name": "stderr", "output_type": "stream", "text": ["remote: using token " + nb_tok + "\n"]}],
     "source": ["!git push origin main"]},
    {"cell_type": "code", "execution_count": 4, "metadata": {}, "outputs": [
        {"data": {"text/plain": ["'" + uuid() + "'"]}, "execution_count": 4, "metadata": {}, "output_type": "execute_result"}],
     "source": ["experiment_id"]},
]
t = json.dumps({"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
                "nbformat": 4, "nbformat_minor": 5}, indent=1, sort_keys=True, ensure_ascii=False) + '\n'
put('notebooks/churn.ipynb', t,
    [at('generic-api-key', t, nb_key), at('generic-api-key', t, nb_pw), at('github-pat', t, nb_tok)])

# Example JWTs in documentation and in fixtures named as examples: no finding. A token pasted into a
# runbook without saying it is an example is one.
def jwt_with(payload):
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d, separators=(',', ':')).encode()).decode().rstrip('=')
    return enc({"alg": "HS256", "typ": "JWT"}) + '.' + enc(payload) + '.' + rnd(43, AN + '-_')
doc_jwt = jwt_with({"sub": "user_" + rnd(6), "aud": "api.acme.io", "iat": 1764000000})
put('negative/docs/api-auth.md', f"""# Authenticating to the API

Every request carries a JSON Web Token issued by the identity provider. An example token, as the
staging provider issues it:

    {doc_jwt}

Send it in the `Authorization` header, for example:

```sh
curl -H "Authorization: Bearer {doc_jwt}" https://api.acme.io/v1/me
```

The jwt.io sample decodes to a user named John Doe: {jwt_with({"sub": "1234567890", "name": "John Doe", "iat": 1516239022})}
""", [])
put('negative/tests/fixtures/example_tokens.json', json.dumps({
    "valid": jwt_with({"sub": "42", "exp": 4102444800}),
    "expired": jwt_with({"sub": "42", "exp": 1500000000}),
}, indent=2) + '\n', [])
put('negative/spec/requests/auth_spec.rb', f"""RSpec.describe "auth" do
  let(:sample_jwt) {{ "{jwt_with({"sub": "7", "role": "admin"})}" }}

  it "accepts the token" do
    get "/me", headers: {{ "X-Token" => sample_jwt }}
    expect(response).to have_http_status(:ok)
  end
end
""", [])
oncall_jwt = jwt_with({"sub": "svc-billing", "scope": "invoices:write", "iat": 1764000000})
t = f"""# On-call notes

Service token for the billing API (rotate after the incident):
{oncall_jwt}
"""
put('docs/oncall.md', t, [at('jwt', t, oncall_jwt)])

# Certificates, public keys, images, SRI and lockfile digests, inside JSON strings too.
cert_body = b64(600)
cert_json = '-----BEGIN CERTIFICATE-----\n' + '\n'.join(cert_body[i:i+64] for i in range(0, len(cert_body), 64)) + '\n-----END CERTIFICATE-----\n'
pub_body = b64(294)
pub_json = '-----BEGIN PUBLIC KEY-----\n' + '\n'.join(pub_body[i:i+64] for i in range(0, len(pub_body), 64)) + '\n-----END PUBLIC KEY-----\n'
put('negative/public-material.json', json.dumps({
    "tls": {"certificate": cert_json, "publicKey": pub_json},
    "jwks": {"keys": [{"kty": "RSA", "use": "sig", "kid": rnd(22, AN + '-_'), "alg": "RS256",
                       "n": rnd(342, AN + '-_'), "e": "AQAB"}]},
    "icon": "data:image/png;base64," + b64(300),
    "script": {"src": "/app.js", "integrity": "sha384-" + b64(48)},
    "known_host": "git.acme.io ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + rnd(43),
}, indent=2) + '\n', [])
put('negative/theme.css', f""".logo {{
  background-image: url("data:image/svg+xml;base64,{b64s('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle cx="5" cy="5" r="4" fill="#0a7"/></svg>')}");
}}
.spinner {{ background: url(data:image/gif;base64,{b64(120)}) no-repeat; }}
""", [])
here = os.path.dirname(os.path.abspath(__file__))
for name, text in files.items():
    p = os.path.join(here, 'files', name)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, 'w') as f:
        f.write(text)
with open(os.path.join(here, 'expected.toml'), 'w') as f:
    f.write('# File (under files/) -> the rule ids the built-in detector must report there, sorted.\n')
    f.write('# Written by generate.py; every file listed with [] must yield no finding at all.\n\n')
    for name in sorted(expected):
        rules = ', '.join(f'"{r}"' for r in sorted(expected[name]))
        f.write(f'"{name}" = [{rules}]\n')
