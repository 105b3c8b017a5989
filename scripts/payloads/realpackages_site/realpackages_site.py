"""The site every configuration of `patchset.py realpackages` serves: two views, a
health check that answers before the rest of the chain, and the one middleware a
user writes on top of django-async-extensions' mixin (the package ships the mixin
only)."""

from django.http import HttpResponse, JsonResponse
from django.urls import path

# Attributes a package middleware sets on the request; the views report them.
PROBED_ATTRIBUTES = (
    "htmx",
    "_prefetch_learner",
    "negotiated_format",
    "observability_correlation_id",
    "state",
)


def report(request, kind):
    present = {name: hasattr(request, name) for name in PROBED_ATTRIBUTES}
    return JsonResponse({"view": kind, "attributes": present})


def sync_view(request):
    return report(request, "sync")


async def async_view(request):
    return report(request, "async")


urlpatterns = [path("sync", sync_view), path("async", async_view)]

HEALTH_BODY = b"healthy"


def health_check_middleware(get_response):
    """A load balancer's probe answered first in the chain, as health-check packages
    do: it never reaches the middleware after it."""

    def middleware(request):
        if request.path == "/health":
            return HttpResponse(HEALTH_BODY)
        return get_response(request)

    return middleware


try:
    from django_async_extensions.middleware.base import AsyncMiddlewareMixin
except ImportError:  # only django-async-extensions' virtualenv has it
    pass
else:

    class AsyncExtensionsHeaderMiddleware(AsyncMiddlewareMixin):
        """The package's documented use: subclass, write async hooks."""

        async def process_response(self, request, response):
            response["X-Async-Extensions"] = "process_response"
            return response
