import django
from django.urls import path

from .async_call_support import AsyncCallView, async_view, sync_view

urlpatterns = [
    path("sync/", sync_view),
    path("async/", async_view),
    path("object/", AsyncCallView()),
]

# Django's view decorators know async views since 5.0.
if django.VERSION >= (5, 0):
    from django.views.decorators.cache import cache_control, never_cache
    from django.views.decorators.clickjacking import xframe_options_deny
    from django.views.decorators.csrf import csrf_exempt
    from django.views.decorators.http import require_GET
    from django.views.decorators.vary import vary_on_headers

    DECORATORS = {
        "cache_control": cache_control(private=True),
        "csrf_exempt": csrf_exempt,
        "never_cache": never_cache,
        "require_GET": require_GET,
        "vary_on_headers": vary_on_headers("Accept"),
        "xframe_options_deny": xframe_options_deny,
    }
    urlpatterns += [
        path(f"{name}/", decorator(AsyncCallView()))
        for name, decorator in DECORATORS.items()
    ]
