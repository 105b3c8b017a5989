"""What the entry-point differential calls: views, view decorators, auth test
functions, signal receivers and middleware, each in every form the series treats
differently, and its twin (an `async def` function) that an async-callable object
must behave like.

Imported by explore_entry_points.py inside a process whose django is the tree under
test; it is also the ROOT_URLCONF (urlpatterns is set per case). Code here must run
on Django 4.2+ and Python 3.10+, hence asgiref's markcoroutinefunction.
"""

import asyncio
import functools
import threading

from asgiref.sync import markcoroutinefunction

from django.http import HttpResponse

EFFECTS = []
urlpatterns = []


def record(label):
    """Where label ran: the main thread or another, in an event loop or not."""
    try:
        asyncio.get_running_loop()
        loop = "loop"
    except RuntimeError:
        loop = "no-loop"
    main = "main" if threading.current_thread() is threading.main_thread() else "other"
    EFFECTS.append(f"{label}@{main}/{loop}")


# Callables in each form: a factory of (sync body, async body) -------------------


class AsyncCall:
    def __init__(self, label, value):
        self.label, self.value = label, value

    async def __call__(self, *args, **kwargs):
        record(self.label)
        return self.value(*args, **kwargs)


class SyncCall:
    def __init__(self, label, value):
        self.label, self.value = label, value

    def __call__(self, *args, **kwargs):
        record(self.label)
        return self.value(*args, **kwargs)


def sync_function(label, value):
    def function(*args, **kwargs):
        record(label)
        return value(*args, **kwargs)

    return function


def async_function(label, value):
    async def function(*args, **kwargs):
        record(label)
        return value(*args, **kwargs)

    return function


def marked_async_call(label, value):
    return markcoroutinefunction(AsyncCall(label, value))


def partial_of_async_function(label, value):
    return functools.partial(async_function(label, value))


def partial_of_async_call(label, value):
    return functools.partial(AsyncCall(label, value))


def async_call_class(label, value):
    """A class whose instances have async __call__(): calling the class builds an
    instance, so it is not async (unchanged on purpose)."""

    class View(HttpResponse):
        def __init__(self, request, *args, **kwargs):
            record(label)
            super().__init__(value(request).content)

        async def __call__(self, *args, **kwargs):
            return self

    return View


# form name -> (factory, the form it must behave like with the series, if not itself)
FORMS = {
    "sync_function": (sync_function, None),
    "async_function": (async_function, None),
    "async_call": (AsyncCall, "async_function"),
    "marked_async_call": (marked_async_call, None),
    "sync_call": (SyncCall, None),
    "partial_async_function": (partial_of_async_function, None),
    "partial_async_call": (partial_of_async_call, "partial_async_function"),
    "async_call_class": (async_call_class, None),
}
ASYNC_CALLABLE_FORMS = {name for name, (_, twin) in FORMS.items() if twin}
RECEIVER_FORMS = ["sync_function", "async_function", "async_call", "marked_async_call",
                  "sync_call"]


def make(form, label, value):
    return FORMS[form][0](label, value)


def page(request, *args, **kwargs):
    return HttpResponse("the page")


# Request users (no database: the series does not change authentication) -------


class User:
    is_active = is_authenticated = True
    is_anonymous = False
    pk = 1

    def has_perms(self, perms, obj=None):
        record("has_perms")
        return all(perm == "app.allowed" for perm in perms)

    async def ahas_perms(self, perms, obj=None):
        record("ahas_perms")
        return all(perm == "app.allowed" for perm in perms)

    def get_username(self):
        return "user"


def user_stub():
    from django.utils.deprecation import MiddlewareMixin

    class UserStub(MiddlewareMixin):
        """Sets request.user and request.auser as AuthenticationMiddleware does."""

        def process_request(self, request):
            user = User()

            async def auser():
                return user

            request.user, request.auser = user, auser

    return UserStub


# Middleware for the chains the differential builds -----------------------------


def early_response(get_response):
    """Answers every request itself: what comes after it is never reached."""

    def middleware(request):
        record("early")
        return HttpResponse("early")

    return middleware


early_response.sync_capable = early_response.async_capable = True


class AsyncOnlyCall:
    """A middleware whose instances have async __call__(), declared async only."""

    sync_capable, async_capable = False, True

    def __init__(self, get_response):
        self.get_response = get_response

    async def __call__(self, request):
        record("async-only")
        response = await self.get_response(request)
        response["X-Async-Only"] = "1"
        return response


class MarkedAsyncOnlyCall(AsyncOnlyCall):
    def __init__(self, get_response):
        super().__init__(get_response)
        markcoroutinefunction(self)


class RaisingAsyncOnlyCall(AsyncOnlyCall):
    """Async only, first in MIDDLEWARE, and its own code raises."""

    async def __call__(self, request):
        from django.core.exceptions import PermissionDenied

        record("raising-async-only")
        raise PermissionDenied


class MarkedRaisingAsyncOnlyCall(RaisingAsyncOnlyCall):
    def __init__(self, get_response):
        super().__init__(get_response)
        markcoroutinefunction(self)


class MisdeclaredAsyncCall(AsyncOnlyCall):
    """The same object with the default flags (sync only): misdeclared."""

    sync_capable, async_capable = True, False


class HybridFlagsAsyncCall(AsyncOnlyCall):
    """Declared for both modes, but __call__ is async whatever get_response is."""

    sync_capable = async_capable = True


def mixin_with(label):
    from django.utils.deprecation import MiddlewareMixin

    class Middleware(MiddlewareMixin):
        def process_request(self, request):
            record(f"{label}-request")

        def process_response(self, request, response):
            record(f"{label}-response")
            response[f"X-{label}"] = "1"
            return response

    return Middleware


MIDDLEWARE_PATHS = {
    "user": "entry_catalogue.UserStub",
    "early": "entry_catalogue.early_response",
    "async_only": "entry_catalogue.AsyncOnlyCall",
    "marked_async_only": "entry_catalogue.MarkedAsyncOnlyCall",
    "raising_async_only": "entry_catalogue.RaisingAsyncOnlyCall",
    "marked_raising_async_only": "entry_catalogue.MarkedRaisingAsyncOnlyCall",
    "misdeclared": "entry_catalogue.MisdeclaredAsyncCall",
    "hybrid_flags": "entry_catalogue.HybridFlagsAsyncCall",
    "remote_user": "django.contrib.auth.middleware.RemoteUserMiddleware",
    "mixin": "entry_catalogue.Mixin",
}
Mixin = mixin_with("Mixin")
UserStub = user_stub()
