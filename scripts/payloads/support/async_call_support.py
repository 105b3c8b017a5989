"""The one set of async callables that run inside the Django under test: middleware,
views and a signal receiver that are objects whose class defines async __call__(),
none of them marked with markcoroutinefunction().

Three users import this file, each by its own name:

- the regression app, as async_callable_regression.async_call_support
  (tests_regression/async_call_support.py is a link to this file, and
  tests_regression/ is linked into the fork as tests/async_callable_regression);
- the chain explorer's catalogue and the served site, as async_call_support
  (scripts/explorer.py and scripts/servecheck.py put this folder on PYTHONPATH).

The served site also imports it from its settings, before Django is set up: keep
the imports to modules that read no setting when imported. Code here must run on
Django 4.2+ and Python 3.10+.
"""

from django.dispatch import Signal
from django.http import Http404, HttpResponse

# The header the support middleware set; scripts/servecheck.py's HEADER says it again.
HEADER, HEADER_VALUE = "X-Async-Call", "called"

STARTPROJECT_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


# Middleware --------------------------------------------------------------------


class AsyncCallObject:
    """
    An object with an async __call__() that runs the rest of the chain and sets
    the header. It declares no sync_capable/async_capable of its own.

    on_request() and on_response() are what a subclass changes (the explorer
    records its effects there); __call__() stays this one async def.
    """

    # A subclass without __slots__ of its own has a __dict__, as users' classes do;
    # SlotsAsyncCallMiddleware has none.
    __slots__ = ("get_response",)

    def __init__(self, get_response):
        self.get_response = get_response

    async def __call__(self, request):
        self.on_request(request)
        response = await self.get_response(request)
        return self.on_response(response)

    def on_request(self, request):
        pass

    def on_response(self, response):
        response[HEADER] = HEADER_VALUE
        return response


class AsyncCallMiddleware(AsyncCallObject):
    """An async-only middleware with an async __call__(), not marked."""

    sync_capable = False
    async_capable = True


class SlotsAsyncCallMiddleware(AsyncCallObject):
    """__slots__ leave no room for markcoroutinefunction()'s marker."""

    __slots__ = ()
    sync_capable = False
    async_capable = True


def async_call_object_factory(get_response):
    return AsyncCallObject(get_response)


async_call_object_factory.sync_capable = False
async_call_object_factory.async_capable = True


class UndeclaredAsyncCallMiddleware(AsyncCallObject):
    """An async __call__() that sets neither sync_capable nor async_capable."""


class MisdeclaredAsyncCallMiddleware(AsyncCallObject):
    """An async __call__() declared synchronous only."""

    sync_capable = True
    async_capable = False


class RaiseValueErrorAsyncCallMiddleware(AsyncCallMiddleware):
    def on_request(self, request):
        raise ValueError("raised by an async middleware")


class RaiseHttp404AsyncCallMiddleware(AsyncCallMiddleware):
    def on_request(self, request):
        raise Http404("raised by an async middleware")


# Views -------------------------------------------------------------------------


def sync_view(request):
    return HttpResponse("sync view")


async def async_view(request):
    return HttpResponse("async view")


class AsyncCallView:
    """A view that is an object with an async __call__(), not marked."""

    async def __call__(self, request):
        return HttpResponse("object view")


# Signals -----------------------------------------------------------------------


class AsyncCallReceiver:
    """A receiver that is an object with an async __call__(), not marked."""

    async def __call__(self, sender, **kwargs):
        return "received"


pinged = Signal()
receiver = AsyncCallReceiver()
pinged.connect(receiver)


def received(responses):
    """The receivers' responses to a send() or asend(), joined by commas."""
    return ",".join(str(response) for _, response in responses)


def signal_view(request):
    return HttpResponse(received(pinged.send(sender=None)))


async def asignal_view(request):
    return HttpResponse(received(await pinged.asend(sender=None)))
