"""Serve one request to a view that is an instance with `async def __call__` (not
marked), under ASGI and under WSGI, with whichever Django is first on sys.path;
print what happened as JSON. `case` runs it on the pristine and patched trees."""

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


urlpatterns = [path("status/", StatusView())]


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
    }
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
