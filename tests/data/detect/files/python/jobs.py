import requests

CACHE_URL = "redis://:Ip7MGY21XHLj7JtLrrrB@cache.internal:6379/0"

def tickets():
    return requests.get(
        "https://support.acme.io/api/tickets",
        headers={"Authorization": "Token 0334ec4a206ded5d646b647c4f83f6ea0907ffae"},
    ).json()

# The legacy DSN form carries the secret key after the public one.
SENTRY_DSN = "https://ce7997c9629bd1826c6d0689ad8e45d2:fa7a5a04d5d136becbfc07dc28c1bce4@o838009.ingest.sentry.io/9024859"
