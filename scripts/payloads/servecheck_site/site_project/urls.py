"""Which views are served follows the patches of the series (SERVECHECK_TOPICS):
callable-object views need the views patch, object receivers the signals patch."""

import os

import django
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from . import views

TOPICS = set(os.environ.get("SERVECHECK_TOPICS", "").split(","))

urlpatterns = [
    path("sync", views.sync_view),
    path("async", views.async_view),
]
if "views" in TOPICS:
    urlpatterns.append(path("object", views.AsyncCallView()))
    # Django's view decorators became async-aware in 5.0.
    if django.VERSION >= (5, 0):
        urlpatterns.append(path("object-csrf-exempt", csrf_exempt(views.AsyncCallView())))
if "signals" in TOPICS:
    urlpatterns += [
        path("signal", views.signal_view),
        path("asignal", views.asignal_view),
    ]
