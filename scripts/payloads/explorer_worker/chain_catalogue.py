"""The middleware kinds the chain explorer combines, and its two views.

Imported by explore_chains.py inside a process whose django is the tree under
test (patched or pristine). Every middleware records the same effects: "<kind>>"
on the way in and "<kind><" on the way out in EFFECTS (with where it ran: in an
event loop or in a plain thread), and appends its kind to the response's
X-Chain header. Code here must run on Django 4.2+ and Python 3.10+, hence
asgiref's markcoroutinefunction/iscoroutinefunction.
"""

import asyncio
import functools

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

import django
from django.dispatch import Signal
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


def stamp(response, kind):
    previous = response.get("X-Chain")
    response["X-Chain"] = f"{previous},{kind}" if previous else kind
    return response


# Views ----------------------------------------------------------------------


def sync_view(request):
    record("view")
    return HttpResponse("sync view")


async def async_view(request):
    record("view")
    return HttpResponse("async view")


class AsyncCallView:
    """A view that is an object with an async __call__() (the views patch)."""

    async def __call__(self, request):
        record("view")
        return HttpResponse("object view")


class AsyncCallReceiver:
    """A signal receiver that is such an object (the signals patch)."""

    async def __call__(self, sender, **kwargs):
        return "received"


pinged = Signal()
receiver = AsyncCallReceiver()
pinged.connect(receiver)


def received(responses):
    return ",".join(str(response) for _, response in responses)


def signal_sync_view(request):
    body = f"signal {received(pinged.send(sender=None))}"
    record("view")
    return HttpResponse(body)


async def signal_async_view(request):
    body = f"signal {received(await pinged.asend(sender=None))}"
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
        record("mixin>")

    def process_response(self, request, response):
        record("mixin<")
        return stamp(response, "mixin")


def sync_fn(get_response):
    """Function middleware with the default flags: sync only."""

    def middleware(request):
        record("sync_fn>")
        response = get_response(request)
        record("sync_fn<")
        return stamp(response, "sync_fn")

    return middleware


@async_only_middleware
def async_fn(get_response):
    async def middleware(request):
        record("async_fn>")
        response = await get_response(request)
        record("async_fn<")
        return stamp(response, "async_fn")

    return middleware


@sync_and_async_middleware
def both_fn(get_response):
    if iscoroutinefunction(get_response):

        async def middleware(request):
            record("both_fn>")
            response = await get_response(request)
            record("both_fn<")
            return stamp(response, "both_fn")

    else:

        def middleware(request):
            record("both_fn>")
            response = get_response(request)
            record("both_fn<")
            return stamp(response, "both_fn")

    return middleware


class async_unmarked:
    """async __call__(), async only, not marked: what #34328 is about."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response

    async def __call__(self, request):
        record("async_unmarked>")
        response = await self.get_response(request)
        record("async_unmarked<")
        return stamp(response, "async_unmarked")


class async_marked:
    """The documented workaround: markcoroutinefunction(self)."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request):
        record("async_marked>")
        response = await self.get_response(request)
        record("async_marked<")
        return stamp(response, "async_marked")


class async_slots:
    """__slots__: cannot be marked at all."""

    __slots__ = ("get_response",)
    sync_capable = False
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response

    async def __call__(self, request):
        record("async_slots>")
        response = await self.get_response(request)
        record("async_slots<")
        return stamp(response, "async_slots")


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
        record("hybrid>")
        response = self.get_response(request)
        record("hybrid<")
        return stamp(response, "hybrid")

    async def __acall__(self, request):
        record("hybrid>")
        response = await self.get_response(request)
        record("hybrid<")
        return stamp(response, "hybrid")


class AsyncCallObject:
    def __init__(self, get_response):
        self.get_response = get_response

    async def __call__(self, request):
        record("factory_object>")
        response = await self.get_response(request)
        record("factory_object<")
        return stamp(response, "factory_object")


@async_only_middleware
def factory_object(get_response):
    """A factory returning an (unmarked) object with an async __call__()."""
    return AsyncCallObject(get_response)


async def partial_middleware(get_response, request):
    record("factory_partial>")
    response = await get_response(request)
    record("factory_partial<")
    return stamp(response, "factory_partial")


@async_only_middleware
def factory_partial(get_response):
    """A factory returning functools.partial() of an async function."""
    return functools.partial(partial_middleware, get_response)


class async_undeclared:
    """async __call__() with the default flags: misdeclared everywhere."""

    def __init__(self, get_response):
        self.get_response = get_response

    async def __call__(self, request):
        record("async_undeclared>")
        response = await self.get_response(request)
        record("async_undeclared<")
        return stamp(response, "async_undeclared")


class async_both_flags:
    """async __call__() claiming sync_capable too: misdeclared wherever Django
    picks sync mode for it."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response

    async def __call__(self, request):
        record("async_both_flags>")
        response = await self.get_response(request)
        record("async_both_flags<")
        return stamp(response, "async_both_flags")


KINDS = [
    "mixin", "sync_fn", "async_fn", "both_fn", "async_unmarked", "async_marked",
    "async_slots", "hybrid", "factory_object", "factory_partial", "async_undeclared",
    "async_both_flags",
]


def flags():
    """Each kind's declared sync_capable/async_capable, as load_middleware reads them."""
    return {
        kind: [getattr(globals()[kind], "sync_capable", True),
               getattr(globals()[kind], "async_capable", False)]
        for kind in KINDS
    }
