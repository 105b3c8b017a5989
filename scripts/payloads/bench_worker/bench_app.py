"""The benchmarked project: startproject's middleware stack and apps (read from the
tree's own project template), two views and an async-only class middleware.

The middleware is marked with markcoroutinefunction() only when
BENCH_MARK_ASYNC_MIDDLEWARE=1: the pristine release needs the mark (its docs say
so), the patched one detects the async __call__ by itself.
"""

import ast
import os
from pathlib import Path

import django
from django.http import HttpResponse
from django.urls import path
from django.utils.deprecation import markcoroutinefunction

ASYNC_ONLY_MIDDLEWARE = "bench_app.AsyncOnlyMiddleware"


def hello(request):
    return HttpResponse("Hello, world.")


async def hello_async(request):
    return HttpResponse("Hello, world.")


urlpatterns = [
    path("sync/", hello),
    path("async/", hello_async),
]


class AsyncOnlyMiddleware:
    async_capable = True
    sync_capable = False

    def __init__(self, get_response):
        self.get_response = get_response
        if os.environ.get("BENCH_MARK_ASYNC_MIDDLEWARE") == "1":
            markcoroutinefunction(self)

    async def __call__(self, request):
        response = await self.get_response(request)
        response["X-Async-Only"] = "1"
        return response


def project_template_setting(name):
    """A list setting (MIDDLEWARE, INSTALLED_APPS) as startproject writes it."""
    template = (
        Path(django.__file__).parent
        / "conf"
        / "project_template"
        / "project_name"
        / "settings.py-tpl"
    )
    for node in ast.parse(template.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == name for target in node.targets
        ):
            return ast.literal_eval(node.value)
    raise LookupError(f"{name} not found in {template}")
