"""Serve one request to a view that is an instance with `async def __call__` (not
marked), under ASGI and under WSGI, with whichever Django is first on sys.path;
print what happened as JSON. `case` runs it on the pristine and patched trees.
Two forms Django and asgiref still judge differently are served under ASGI too: a
class whose instances have `async def __call__` (calling the class builds an
instance, so it is synchronous) and an instance attribute named `__call__`."""

import asyncio
import json
import os
import sys
import traceback

import django
from django.conf import settings
from django.http import HttpResponse
from django.urls import path


class StatusView:
    async def __call__(self, request):
        return HttpResponse("OK")


class StatusClassView:
    """Used as the view itself: StatusClassView(request) is the response."""

    def __new__(cls, request):
        return HttpResponse("OK")

    async def __call__(self, request):
        return HttpResponse("never used")


class AttributeView:
    def __init__(self):
        async def view(request):
            return HttpResponse("never used")

        self.__call__ = view  # Python ignores it: calling the object uses the class's.

    def __call__(self, request):
        return HttpResponse("OK")


urlpatterns = [
    path("status/", StatusView()),
    path("class/", StatusClassView),
    path("attribute/", AttributeView()),
]


def outcome(call):
    try:
        response = call()
    except Exception as error:
        frame = traceback.extract_tb(error.__traceback__)[-1]
        tree = os.path.dirname(os.path.dirname(django.__file__))
        if frame.filename.startswith(tree + os.sep):
            where = os.path.relpath(frame.filename, tree)
        else:
            where = frame.filename.split("site-packages" + os.sep)[-1]
        return {
            "error": f"{type(error).__name__}: {error}",
            "raised_in": f"{where}, line {frame.lineno}: {frame.line}",
        }
    return {"status": response.status_code, "body": response.content.decode()}


def asgiref_check_source():
    """The lines of SyncToAsync.__init__ that refuse an async callable."""
    import inspect

    from asgiref.sync import SyncToAsync

    lines = inspect.getsource(SyncToAsync.__init__).splitlines()
    end = next(i for i, line in enumerate(lines) if "can only be applied" in line)
    start = max(i for i in range(end) if lines[i].lstrip().startswith("if "))
    return inspect.cleandoc("\n".join(lines[start:end + 1]))


def main():
    settings.configure(ROOT_URLCONF=__name__, ALLOWED_HOSTS=["*"], DEBUG=False,
                       MIDDLEWARE=[])
    django.setup()
    import asgiref
    from django.test import AsyncClient, Client

    result = {
        "django": django.__file__,
        "version": django.get_version(),
        "asgiref": asgiref.__version__,
        "asgiref_check": asgiref_check_source(),
        "asgi": outcome(lambda: asyncio.run(AsyncClient().get("/status/"))),
        "wsgi": outcome(lambda: Client().get("/status/")),
        "class_asgi": outcome(lambda: asyncio.run(AsyncClient().get("/class/"))),
        "attribute_asgi": outcome(lambda: asyncio.run(AsyncClient().get("/attribute/"))),
    }
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
