"""Django settings for the billing service."""
import os

DEBUG = False
ALLOWED_HOSTS = ["billing.internal"]

SECRET_KEY = "django-insecure-af#uh5)864-sl1oqgguc-_%sc@el*d+9o!erzsd4dr-r@jyzte"

AWS_ACCESS_KEY_ID = "AKIACQTJKSZPRFK5CKNC"
AWS_SECRET_ACCESS_KEY = "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"

STRIPE_SECRET_KEY = "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"
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "billing"}}
