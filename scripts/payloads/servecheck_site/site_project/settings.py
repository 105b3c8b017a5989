"""A startproject-like site with an unmarked async class middleware, served by
real servers for `patchset.py serve-check`. Its middleware and views come from
async_call_support, which servecheck.py puts on PYTHONPATH next to this site."""

import os
from pathlib import Path

from async_call_support import STARTPROJECT_MIDDLEWARE

BASE_DIR = Path(os.environ.get("SERVECHECK_DATA", Path(__file__).resolve().parent))

SECRET_KEY = "serve-check-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
]

MIDDLEWARE = [*STARTPROJECT_MIDDLEWARE, "async_call_support.AsyncCallMiddleware"]

ROOT_URLCONF = "site_project.urls"
WSGI_APPLICATION = "site_project.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
    }
}

USE_TZ = True

# With DEBUG off Django would only mail errors; the check reads them in the log.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django": {"handlers": ["console"], "level": "ERROR"}},
}
