"""Which views are served follows the patches of the series (SERVECHECK_TOPICS):
callable-object views need the views patch, object receivers the signals patch."""

import os

import django
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

import async_call_support as support

TOPICS = set(os.environ.get("SERVECHECK_TOPICS", "").split(","))

urlpatterns = [
    path("sync", support.sync_view),
    path("async", support.async_view),
]
if "views" in TOPICS:
    urlpatterns.append(path("object", support.AsyncCallView()))
    # Django's view decorators became async-aware in 5.0.
    if django.VERSION >= (5, 0):
        urlpatterns.append(path("object-csrf-exempt", csrf_exempt(support.AsyncCallView())))
if "signals" in TOPICS:
    urlpatterns += [
        path("signal", support.signal_view),
        path("asignal", support.asignal_view),
    ]
