"""Run middleware chains through Django's real WSGIHandler and ASGIHandler and write
what each did as JSON. Started by scripts/explorer.py, once with the patched tree
and once with the pristine release first on PYTHONPATH.

usage: explore_chains.py CASES.json RESULTS.json
"""

import asyncio
import gc
import io
import json
import sys
import warnings

import django
from django.conf import settings

CASE_TIMEOUT = 10  # seconds; a hung ASGI chain counts as an error


def configure_django(**overrides):
    """Settings for a run of the explorer; explore_entry_points.py adds its own."""
    settings.configure(
        **{
            "DEBUG": False,
            "SECRET_KEY": "chain-explorer",
            "ALLOWED_HOSTS": ["testserver"],
            "ROOT_URLCONF": "chain_catalogue",
            "MIDDLEWARE": [],
            "INSTALLED_APPS": [],
            "DATABASES": {},
            "USE_TZ": True,
            **overrides,
        }
    )
    django.setup()


def write_report(results_path, results, **extra):
    """The JSON report: the django the run imported, and its results."""
    report = {
        "django_file": django.__file__,
        "django_version": django.get_version(),
        "python": "%d.%d" % sys.version_info[:2],
        **extra,
        "results": results,
    }
    with open(results_path, "w") as stream:
        json.dump(report, stream)


def wsgi_environ(url):
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": url,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def run_wsgi(url):
    from django.core.handlers.wsgi import WSGIHandler

    handler = WSGIHandler()
    started = {}

    def start_response(status, headers, exc_info=None):
        started["status"] = int(status.split()[0])
        started["headers"] = dict(headers)

    body_parts = handler(wsgi_environ(url), start_response)
    try:
        body = b"".join(body_parts)
    finally:
        if hasattr(body_parts, "close"):
            body_parts.close()
    return started["status"], started["headers"], body


def asgi_scope(url):
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": url,
        "raw_path": url.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }


async def run_asgi_request(handler, url):
    messages = []
    request_sent = False

    async def receive():
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        # Newer Djangos listen for a disconnect while the view runs: never comes.
        await asyncio.Event().wait()

    async def send(message):
        messages.append(message)

    await asyncio.wait_for(handler(asgi_scope(url), receive, send), CASE_TIMEOUT)
    start = next(m for m in messages if m["type"] == "http.response.start")
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], headers, body


def run_asgi(url, loop):
    from django.core.handlers.asgi import ASGIHandler

    handler = ASGIHandler()
    return loop.run_until_complete(run_asgi_request(handler, url))


def run_case(case, loop):
    """One chain under one handler: its outcome, response, effects and warnings."""
    import chain_catalogue

    from django.core.exceptions import ImproperlyConfigured

    settings.MIDDLEWARE = [f"chain_catalogue.{kind}" for kind in case["chain"]]
    chain_catalogue.EFFECTS.clear()
    result = {"id": case["id"], "outcome": "ok", "error": ""}
    unraisable = []
    previous_hook = sys.unraisablehook
    sys.unraisablehook = lambda info: unraisable.append(
        f"{type(info.exc_value).__name__}: {info.exc_value}"
    )
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                url = "/" + case["view"]
                if case["handler"] == "wsgi":
                    status, headers, body = run_wsgi(url)
                else:
                    status, headers, body = run_asgi(url, loop)
                result.update(status=status, body=body.decode(errors="replace"),
                              x_chain=headers.get("X-Chain", ""))
            except ImproperlyConfigured as error:
                result.update(outcome="load_error", error=str(error))
            except Exception as error:
                result.update(outcome="error", error=f"{type(error).__name__}: {error}")
            # Unawaited coroutines caught in reference cycles warn only when freed.
            # Freezing what survives keeps each collection down to this case's
            # objects: a full collection over all of Django costs more than a case.
            gc.collect()
            gc.freeze()
    finally:
        sys.unraisablehook = previous_hook
    result["warnings"] = sorted(
        {f"{w.category.__name__}: {w.message}" for w in caught} | set(unraisable)
    )
    result["effects"] = [list(effect) for effect in chain_catalogue.EFFECTS]
    return result


def main(argv):
    cases_path, results_path = argv
    configure_django()
    import chain_catalogue

    cases = json.loads(open(cases_path).read())
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    results = []
    for number, case in enumerate(cases, 1):
        results.append(run_case(case, loop))
        if number % 1000 == 0:
            print(f"  {number}/{len(cases)} chains run", flush=True)
    loop.close()
    write_report(results_path, results, flags=chain_catalogue.flags())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
