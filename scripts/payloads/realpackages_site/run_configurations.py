"""Send each configuration's requests through Django's test clients (WSGI: Client,
ASGI: AsyncClient; both build their chain with the handlers' load_middleware) and
record what came back, raw: `patchset.py realpackages` judges it. Run once per tree,
with that tree's django first on PYTHONPATH.

usage: run_configurations.py CONFIGURATIONS.json RESULTS.json
"""

import asyncio
import gc
import importlib
import inspect
import json
import sys
import warnings

import django
from django.conf import settings

REQUEST_TIMEOUT = 10  # seconds; a hung ASGI chain is recorded as such
KEPT_HEADERS = 12
TEXT_LIMIT = 300


def class_facts(dotted):
    """What Django's load_middleware and the detection read off the class."""
    module_name, _, name = dotted.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except Exception as error:  # the package itself is broken here: say so
        return {"import_error": f"{type(error).__name__}: {error}"[:TEXT_LIMIT]}
    call = getattr(cls, "__call__", None)
    return {
        "sync_capable": getattr(cls, "sync_capable", None),
        "async_capable": getattr(cls, "async_capable", None),
        "call_is_async_def": bool(
            getattr(getattr(call, "__code__", None), "co_flags", 0) & inspect.CO_COROUTINE
        ),
        "has_acall": hasattr(cls, "__acall__"),
    }


def settle(results, seen):
    """Give the last request the warnings it caused: its response is dropped and the
    garbage collected first, so an unawaited coroutine warns for the request that
    made it, not for the next one."""
    gc.collect()
    warned = {f"{w.category.__name__}: {w.message}"[:TEXT_LIMIT] for w in seen}
    results[-1]["warnings"] = sorted(warned)
    seen.clear()


def outcome_of(response, raised, caught):
    if raised is not None:
        return {"raised": raised}
    return {
        "status": response.status_code,
        "body": response.content.decode(errors="replace")[:TEXT_LIMIT],
        "headers": dict(list(response.headers.items())[: KEPT_HEADERS * 2]),
        "exception": caught[0] if caught else None,
    }


def describe(error):
    return f"{type(error).__name__}: {error}"[:TEXT_LIMIT]


def run_requests(requests, caught, seen, send):
    """Send each request with send(request), which returns (the response, None) or
    (None, what it raised), and record its outcome and the warnings it caused."""
    results = []
    for request in requests:
        caught.clear()
        results.append(outcome_of(*send(request), caught))
        settle(results, seen)
    return results


def run_wsgi(requests, caught, seen):
    from django.test import Client

    client = Client(raise_request_exception=False)

    def send(request):
        try:
            return client.get(request["path"], headers=request["headers"]), None
        except Exception as error:
            return None, describe(error)

    return run_requests(requests, caught, seen, send)


def run_asgi(requests, caught, seen):
    """Like run_wsgi, with every request of the configuration on one event loop."""
    from django.test import AsyncClient

    client = AsyncClient(raise_request_exception=False)
    handler = client.handler

    async def get(request):
        async def handler_with_scope(scope):
            # What an ASGI server adds to the scope (a lifespan "state"): the test
            # client's get() turns extra keywords into headers, not scope keys.
            return await handler({**scope, **request["scope"]})

        client.handler = handler_with_scope
        try:
            response = await asyncio.wait_for(
                client.get(request["path"], headers=request["headers"]), REQUEST_TIMEOUT
            )
        except asyncio.TimeoutError:
            return None, f"no response within {REQUEST_TIMEOUT} s"
        except Exception as error:
            return None, describe(error)
        return response, None

    loop = asyncio.new_event_loop()
    try:
        return run_requests(requests, caught, seen, lambda r: loop.run_until_complete(get(r)))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


def run_configuration(configuration):
    from django.core.signals import got_request_exception
    from django.test import override_settings

    caught = []

    def record_exception(sender, **kwargs):
        caught.append(describe(sys.exc_info()[1]))

    got_request_exception.connect(record_exception, weak=False)
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with override_settings(MIDDLEWARE=configuration["middleware"]):
                if configuration["handler"] == "wsgi":
                    results = run_wsgi(configuration["requests"], caught, seen)
                else:
                    results = run_asgi(configuration["requests"], caught, seen)
            gc.collect()
    finally:
        got_request_exception.disconnect(record_exception)
    return {"responses": results, "warnings_after": [str(w.message)[:TEXT_LIMIT] for w in seen]}


def main(argv):
    configurations_path, results_path = argv
    with open(configurations_path) as stream:
        plan = json.load(stream)
    settings.configure(
        DEBUG=False,
        SECRET_KEY="realpackages",
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF="realpackages_site",
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        USE_TZ=True,
        **plan["settings"],
    )
    django.setup()
    classes = {name: class_facts(name) for name in plan["classes"]}
    results = {
        configuration["id"]: run_configuration(configuration)
        for configuration in plan["configurations"]
    }
    with open(results_path, "w") as stream:
        json.dump(
            {
                "django_file": django.__file__,
                "django_version": django.get_version(),
                "python": "%d.%d" % sys.version_info[:2],
                "classes": classes,
                "results": results,
            },
            stream,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
