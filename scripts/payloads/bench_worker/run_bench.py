"""Measure one Django tree from inside the target interpreter and write JSON.
Started by scripts/bench.py with the tree first on PYTHONPATH.

usage: run_bench.py {timing,callgrind,hops,detect} OUT.json [options]

timing     ns per request through the real handlers, and load_middleware() time
callgrind  each scenario's request loop between two marker calls that valgrind's
           --zero-before/--dump-before name; nothing else is measured
hops       sync_to_async/async_to_sync calls per request
detect     is_coroutine_callable() vs iscoroutinefunction() (patched tree only)
"""

import argparse
import asyncio
import collections
import functools
import gc
import inspect
import json
import os
import platform
import sys
import threading
import time
import timeit
from pathlib import Path

import django
from django.conf import settings

SCENARIOS = ("wsgi_sync_view", "asgi_async_view", "asgi_async_middleware")


def configure_django():
    from bench_app import project_template_setting

    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench",
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF="bench_app",
        INSTALLED_APPS=project_template_setting("INSTALLED_APPS"),
        MIDDLEWARE=project_template_setting("MIDDLEWARE"),
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
        },
        USE_TZ=True,
    )
    django.setup()


def middleware_for(scenario):
    from bench_app import ASYNC_ONLY_MIDDLEWARE, project_template_setting

    stack = project_template_setting("MIDDLEWARE")
    if scenario == "asgi_async_middleware":
        stack.append(ASYNC_ONLY_MIDDLEWARE)
    return stack


def build_handler(scenario):
    from django.core.handlers.asgi import ASGIHandler
    from django.core.handlers.wsgi import WSGIHandler

    settings.MIDDLEWARE = middleware_for(scenario)
    return WSGIHandler() if scenario.startswith("wsgi") else ASGIHandler()


def build_requests(scenario, count):
    from django.test import AsyncRequestFactory, RequestFactory

    if scenario == "wsgi_sync_view":
        return [RequestFactory().get("/sync/") for _ in range(count)]
    return [AsyncRequestFactory().get("/async/") for _ in range(count)]


def request_loop(scenario, handler, event_loop):
    """A function serving a list of requests; the loop itself is all it runs."""
    if scenario.startswith("wsgi"):

        def serve(requests):
            for request in requests:
                handler.get_response(request)

        return serve

    async def serve_async(requests):
        for request in requests:
            await handler.get_response_async(request)

    def serve(requests):
        event_loop.run_until_complete(serve_async(requests))

    return serve


def check_response(scenario, handler, event_loop):
    """One request must succeed, so a broken chain is not timed as a fast one."""
    request = build_requests(scenario, 1)[0]
    if scenario.startswith("wsgi"):
        response = handler.get_response(request)
    else:
        response = event_loop.run_until_complete(handler.get_response_async(request))
    if response.status_code != 200 or response.content != b"Hello, world.":
        raise SystemExit(f"{scenario}: got {response.status_code} {response.content!r}")


def prepared_scenario(scenario, warmup, event_loop):
    handler = build_handler(scenario)
    check_response(scenario, handler, event_loop)
    serve = request_loop(scenario, handler, event_loop)
    serve(build_requests(scenario, warmup))
    return handler, serve


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def time_requests(serve, scenario, requests, repeats):
    timings = []
    for _ in range(repeats):
        batch = build_requests(scenario, requests)
        gc.collect()
        started = time.perf_counter_ns()
        serve(batch)
        timings.append((time.perf_counter_ns() - started) / requests)
    return median(timings)


def time_chain_build(handler, scenario, builds):
    is_async = not scenario.startswith("wsgi")
    timings = []
    for _ in range(builds):
        started = time.perf_counter_ns()
        handler.load_middleware(is_async=is_async)
        timings.append(time.perf_counter_ns() - started)
    return median(timings)


def measure_timing(options, event_loop):
    results = {}
    for scenario in SCENARIOS:
        handler, serve = prepared_scenario(scenario, options.warmup, event_loop)
        results[scenario] = {
            "ns_per_request": time_requests(
                serve, scenario, options.requests, options.repeats
            ),
            "chain_build_ns": time_chain_build(handler, scenario, options.builds),
        }
    return results


def measure_callgrind(options, event_loop):
    """Each scenario's loop sits between sched_get_priority_max() (valgrind zeroes
    its counters on entering it) and sched_get_priority_min() (valgrind dumps on
    entering it): neither is called by Python or Django, so each dump holds exactly
    one request loop. Everything else is prepared outside the markers."""
    requests = {}
    for scenario in options.scenarios:
        wsgi = scenario.startswith("wsgi")
        warmup = options.wsgi_warmup if wsgi else options.warmup
        requests[scenario] = options.wsgi_requests if wsgi else options.requests
        _, serve = prepared_scenario(scenario, warmup, event_loop)
        batch = build_requests(scenario, requests[scenario])
        # Frozen, the heap built so far (its size differs between the trees) is
        # not walked by a collection that happens to fall inside the loop.
        gc.collect()
        gc.freeze()
        os.sched_get_priority_max(os.SCHED_OTHER)
        serve(batch)
        os.sched_get_priority_min(os.SCHED_OTHER)
    order = list(options.scenarios)
    for name, calls in count_one_call(options.calls):
        order.append(name)
        requests[name] = calls
    return {"order": order, "requests": requests}


def call_only(function):
    """A function doing nothing but call function: one Python call more."""

    def only_calls(obj):
        return function(obj)

    return only_calls


def count_one_call(calls):
    """What one more Python call costs where the handler asks about the view: the
    handler's own iscoroutinefunction(view), bare and then through a function that
    only calls it, each loop between the markers. Yields (name, calls) in order."""
    from bench_app import hello
    from django.core.handlers import base

    iscoroutinefunction = base.iscoroutinefunction
    for name, function in (
        ("call_bare", iscoroutinefunction),
        ("call_only", call_only(iscoroutinefunction)),
    ):
        for _ in range(calls):  # warm-up
            function(hello)
        gc.collect()
        os.sched_get_priority_max(os.SCHED_OTHER)
        for _ in range(calls):
            function(hello)
        os.sched_get_priority_min(os.SCHED_OTHER)
        yield name, calls


def count_calls(cls, counts, name):
    original = cls.__call__
    if inspect.iscoroutinefunction(original):

        async def counted(self, *args, **kwargs):
            counts[name] += 1
            return await original(self, *args, **kwargs)

    else:

        def counted(self, *args, **kwargs):
            counts[name] += 1
            return original(self, *args, **kwargs)

    cls.__call__ = counted


def python_call_counter():
    """A profile function counting Python-level calls by function, and the Counter
    it fills while profile.active is true (so warm-up requests are left out).
    Calls into threading.py are left out: how often a thread has to wait for
    another depends on timing, not on the code that runs."""
    calls = collections.Counter()

    def profile(frame, event, arg):
        if event == "call" and profile.active:
            code = frame.f_code
            if code.co_filename == threading.__file__:
                return
            name = getattr(code, "co_qualname", code.co_name)  # co_qualname: 3.11+
            calls[f"{name} ({Path(code.co_filename).name})"] += 1

    profile.active = False
    return profile, calls


def measure_hops(options, event_loop):
    """Thread hops and Python calls per request. The profile function is set for
    every thread before the first scenario starts any, so the calls made in
    asgiref's executor thread are counted too."""
    from asgiref.sync import AsyncToSync, SyncToAsync

    counts = {"sync_to_async": 0, "async_to_sync": 0}
    count_calls(SyncToAsync, counts, "sync_to_async")
    count_calls(AsyncToSync, counts, "async_to_sync")
    profile, calls = python_call_counter()
    threading.setprofile(profile)
    sys.setprofile(profile)
    results = {}
    for scenario in SCENARIOS:
        _, serve = prepared_scenario(scenario, options.warmup, event_loop)
        batch = build_requests(scenario, options.requests)
        for name in counts:
            counts[name] = 0
        calls.clear()
        profile.active = True
        serve(batch)
        profile.active = False
        results[scenario] = {name: n / options.requests for name, n in counts.items()}
        results[scenario]["python_calls"] = {
            function: n / options.requests for function, n in calls.items()
        }
    sys.setprofile(None)
    threading.setprofile(None)
    return results


def detection_cases():
    def sync_function(request):
        pass

    async def async_function(request):
        pass

    class View:
        def get(self, request):
            pass

    class AsyncCallable:
        async def __call__(self, request):
            pass

    return {
        "sync function": sync_function,
        "async function": async_function,
        "bound method": View().get,
        "async callable object": AsyncCallable(),
        "partial (sync function)": functools.partial(sync_function, None),
        "class object (async __call__)": AsyncCallable,
    }


def best_ns(function, obj, number):
    timer = timeit.Timer("function(obj)", globals={"function": function, "obj": obj})
    return timer.timeit(number) / number * 1e9


def series_iscoroutinefunction():
    """The iscoroutinefunction the helper itself asks first: asgiref's where the
    series imports it (4.2 to 6.0), else inspect's (6.1), as the handler does."""
    import django.utils.inspect as helper_module

    return getattr(helper_module, "iscoroutinefunction", None) or (
        helper_module.inspect.iscoroutinefunction
    )


def measure_detection(options, event_loop):
    """The helper, the series' iscoroutinefunction, and a function that only calls
    it: the least any helper costs more."""
    from django.utils.inspect import is_coroutine_callable

    iscoroutinefunction = series_iscoroutinefunction()
    functions = {
        "helper_ns": is_coroutine_callable,
        "baseline_ns": iscoroutinefunction,
        "call_only_ns": call_only(iscoroutinefunction),
    }
    results = {}
    for name, obj in detection_cases().items():
        batches = {key: [] for key in functions}
        for _ in range(options.repeats):  # interleaved, so drift hits all alike
            for key, function in functions.items():
                batches[key].append(best_ns(function, obj, options.number))
        results[name] = {key: min(values) for key, values in batches.items()}
        results[name]["helper_result"] = is_coroutine_callable(obj)
        results[name]["baseline_result"] = iscoroutinefunction(obj)
    return results


MODES = {
    "timing": measure_timing,
    "callgrind": measure_callgrind,
    "hops": measure_hops,
    "detect": measure_detection,
}


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="run_bench.py")
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("output")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--builds", type=int, default=200)
    parser.add_argument("--number", type=int, default=100000)
    # callgrind: a WSGI request costs ~1/14 of an ASGI one (no thread hops), so it
    # can afford the warm-up that reaches the interpreter's steady state.
    parser.add_argument("--wsgi-requests", type=int, default=100)
    parser.add_argument("--wsgi-warmup", type=int, default=200)
    parser.add_argument("--layout", type=int, default=0)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=SCENARIOS)
    return parser.parse_args(argv)


def layout_padding(layout):
    """Objects of many sizes, kept alive for the whole run, so that everything
    allocated after them (Django's modules, interned names, types) lands at other
    addresses. CPython's method cache is indexed by the address of the looked-up
    name, so its collisions, and with them the instruction counts, depend on
    where things are; measuring each tree over several layouts separates that
    from the cost of the code."""
    return [bytes(1 + number % 500) for number in range(layout * 1009)]


def main(argv=None):
    options = parse_args(argv)
    padding = layout_padding(options.layout)  # noqa: F841 (kept alive on purpose)
    configure_django()
    event_loop = asyncio.new_event_loop()
    try:
        measurements = MODES[options.mode](options, event_loop)
    finally:
        event_loop.close()
    import asgiref

    report = {
        "django_file": django.__file__,
        "django_version": django.get_version(),
        "asgiref_version": asgiref.__version__,
        "python": platform.python_version(),
        "results": measurements,
    }
    with open(options.output, "w") as output:
        json.dump(report, output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
