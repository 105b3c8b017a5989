"""The middleware kinds the chain explorer combines, and its views.

Imported by explore_chains.py inside a process whose django is the tree under
test (patched or pristine). Every middleware records the same effects: "<kind>>"
on the way in and "<kind><" on the way out in EFFECTS (with where it ran: in an
event loop or in a plain thread), and appends its kind to the response's
X-Chain header. The async callables (classes, views, receiver) are
async_call_support's, which explorer.py puts on PYTHONPATH; the kinds built on
them only add the recording. Code here must run on Django 4.2+ and Python 3.10+,
hence asgiref's markcoroutinefunction/iscoroutinefunction.
"""

import asyncio
import functools
import inspect

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

import async_call_support as support
import django
from django.http import HttpResponse
from django.urls import path
from django.utils.decorators import async_only_middleware, sync_and_async_middleware
from django.utils.deprecation import MiddlewareMixin
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.vary import vary_on_headers

EFFECTS = []


def record(label):
    try:
        asyncio.get_running_loop()
        where = "loop"
    except RuntimeError:
        where = "thread"
    EFFECTS.append([label, where])


def entering(kind):
    record(f"{kind}>")


def leaving(kind, response):
    """Record the way out and append kind to the X-Chain header."""
    record(f"{kind}<")
    previous = response.get("X-Chain")
    response["X-Chain"] = f"{previous},{kind}" if previous else kind
    return response


# Views: async_call_support's, recording that they ran -------------------------


def sync_view(request):
    record("view")
    return support.sync_view(request)


async def async_view(request):
    record("view")
    return await support.async_view(request)


class AsyncCallView(support.AsyncCallView):
    """A view that is an object with an async __call__() (the views patch)."""

    async def __call__(self, request):
        record("view")
        return await super().__call__(request)


# Views sending support.pinged to its async callable receiver (the signals patch).


def signal_sync_view(request):
    body = f"signal {support.received(support.pinged.send(sender=None))}"
    record("view")
    return HttpResponse(body)


async def signal_async_view(request):
    body = f"signal {support.received(await support.pinged.asend(sender=None))}"
    record("view")
    return HttpResponse(body)


urlpatterns = [
    path("sync", sync_view),
    path("async", async_view),
    path("object", AsyncCallView()),
    path("signal_sync", signal_sync_view),
    path("signal_async", signal_async_view),
]
# Django's view decorators know async views since 5.0.
if django.VERSION >= (5, 0):
    urlpatterns.append(path(
        "object_decorated",
        csrf_exempt(never_cache(vary_on_headers("Accept")(AsyncCallView()))),
    ))


# Middleware kinds -------------------------------------------------------------


class mixin(MiddlewareMixin):
    """Stock MiddlewareMixin middleware (sync and async capable)."""

    def process_request(self, request):
        entering("mixin")

    def process_response(self, request, response):
        return leaving("mixin", response)


def sync_fn(get_response):
    """Function middleware with the default flags: sync only."""

    def middleware(request):
        entering("sync_fn")
        return leaving("sync_fn", get_response(request))

    return middleware


@async_only_middleware
def async_fn(get_response):
    async def middleware(request):
        entering("async_fn")
        return leaving("async_fn", await get_response(request))

    return middleware


@sync_and_async_middleware
def both_fn(get_response):
    if iscoroutinefunction(get_response):

        async def middleware(request):
            entering("both_fn")
            return leaving("both_fn", await get_response(request))

    else:

        def middleware(request):
            entering("both_fn")
            return leaving("both_fn", get_response(request))

    return middleware


class Recorded:
    """Records a support class's effects: its kind is its class name."""

    __slots__ = ()

    @property
    def kind(self):
        return type(self).__name__

    def on_request(self, request):
        entering(self.kind)

    def on_response(self, response):
        return leaving(self.kind, response)


class async_unmarked(Recorded, support.AsyncCallMiddleware):
    """async __call__(), async only, not marked: what #34328 is about."""


class async_marked(Recorded, support.AsyncCallMiddleware):
    """The documented workaround: markcoroutinefunction(self)."""

    def __init__(self, get_response):
        super().__init__(get_response)
        markcoroutinefunction(self)


class async_slots(Recorded, support.SlotsAsyncCallMiddleware):
    """__slots__: cannot be marked at all."""

    __slots__ = ()


class hybrid:
    """MiddlewareMixin's own pattern: a sync __call__() that returns a coroutine
    in async mode, with the instance marked."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        entering("hybrid")
        return leaving("hybrid", self.get_response(request))

    async def __acall__(self, request):
        entering("hybrid")
        return leaving("hybrid", await self.get_response(request))


class RecordedAsyncCallObject(Recorded, support.AsyncCallObject):
    __slots__ = ()
    kind = "factory_object"


@async_only_middleware
def factory_object(get_response):
    """A factory returning an (unmarked) object with an async __call__()."""
    return RecordedAsyncCallObject(get_response)


async def partial_middleware(get_response, request):
    entering("factory_partial")
    return leaving("factory_partial", await get_response(request))


@async_only_middleware
def factory_partial(get_response):
    """A factory returning functools.partial() of an async function."""
    return functools.partial(partial_middleware, get_response)


class async_undeclared(Recorded, support.UndeclaredAsyncCallMiddleware):
    """async __call__() and no flags: used in async-only mode."""


class async_both_flags(Recorded, support.AsyncCallMiddleware):
    """async __call__() claiming sync_capable too: misdeclared wherever Django
    picks sync mode for it."""

    sync_capable = True


KINDS = [
    "mixin", "sync_fn", "async_fn", "both_fn", "async_unmarked", "async_marked",
    "async_slots", "hybrid", "factory_object", "factory_partial", "async_undeclared",
    "async_both_flags",
]


def flags():
    """Each kind's sync_capable/async_capable as the series' load_middleware uses
    them: as declared, or async only for a class with an async def __call__() that
    declares neither."""
    result = {}
    for kind in KINDS:
        middleware = globals()[kind]
        undeclared = not hasattr(middleware, "sync_capable") and not hasattr(
            middleware, "async_capable")
        if undeclared and inspect.iscoroutinefunction(getattr(middleware, "__call__", None)):
            result[kind] = [False, True]
        else:
            result[kind] = [getattr(middleware, "sync_capable", True),
                            getattr(middleware, "async_capable", False)]
    return result
