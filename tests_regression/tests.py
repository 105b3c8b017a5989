"""
Regression tests for #34328: Django detects objects whose class defines an
async __call__() as asynchronous, without markcoroutinefunction().

Every test here fails on the unpatched releases and passes on the patched
series; `scripts/patchset.py redgreen` checks both.
"""

from asgiref.sync import iscoroutinefunction

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import got_request_exception
from django.test import AsyncClient, Client, SimpleTestCase, override_settings
from django.utils.module_loading import import_string

from .async_call_support import STARTPROJECT_MIDDLEWARE, AsyncCallView

SUPPORT_MODULE = "async_callable_regression.async_call_support"
ASYNC_CALL_MIDDLEWARE = [
    f"{SUPPORT_MODULE}.AsyncCallMiddleware",
    f"{SUPPORT_MODULE}.SlotsAsyncCallMiddleware",
    f"{SUPPORT_MODULE}.async_call_object_factory",
]
VIEWS = [("/sync/", b"sync view"), ("/async/", b"async view")]
BRANCHING_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.contrib.auth.middleware.RemoteUserMiddleware",
]
MISDECLARED_MESSAGE = (
    f"Middleware factory {SUPPORT_MODULE}.MisdeclaredAsyncCallMiddleware "
    "returned an asynchronous callable for a synchronous get_response."
)


def startproject_cases():
    """
    Yield (subTest parameters, MIDDLEWARE, url, body) for each unmarked async
    middleware at each position of the startproject middleware, with each view.
    """
    for middleware_path in ASYNC_CALL_MIDDLEWARE:
        for position in range(len(STARTPROJECT_MIDDLEWARE) + 1):
            middleware = STARTPROJECT_MIDDLEWARE.copy()
            middleware.insert(position, middleware_path)
            for url, body in VIEWS:
                parameters = {"middleware": middleware_path, "position": position}
                yield {**parameters, "url": url}, middleware, url, body


def after_common_middleware(name):
    """MIDDLEWARE with CommonMiddleware, then the support middleware name."""
    return ["django.middleware.common.CommonMiddleware", f"{SUPPORT_MODULE}.{name}"]


@override_settings(ROOT_URLCONF="async_callable_regression.urls")
class AsyncCallMiddlewareTests(SimpleTestCase):
    def assertAllMiddlewareRan(self, response, body):
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content, body)
        self.assertEqual(response["X-Async-Call"], "called")
        # Set by SecurityMiddleware, outside or inside the async middleware.
        self.assertEqual(response["X-Content-Type-Options"], "nosniff")

    def test_startproject_middleware(self):
        """
        Unmarked async middleware work at every position of the startproject
        middleware, with sync and async views.
        """
        for parameters, middleware, url, body in startproject_cases():
            with self.subTest(**parameters), self.settings(MIDDLEWARE=middleware):
                self.assertAllMiddlewareRan(Client().get(url), body)

    async def test_startproject_middleware_async(self):
        for parameters, middleware, url, body in startproject_cases():
            with self.subTest(**parameters), self.settings(MIDDLEWARE=middleware):
                self.assertAllMiddlewareRan(await AsyncClient().get(url), body)

    @override_settings(
        MIDDLEWARE=after_common_middleware("RaiseValueErrorAsyncCallMiddleware")
    )
    def test_exception_becomes_500(self):
        """An exception raised by an unmarked async middleware is a 500."""
        response = Client(raise_request_exception=False).get("/sync/")
        self.assertEqual(response.status_code, 500)

    @override_settings(
        MIDDLEWARE=after_common_middleware("RaiseValueErrorAsyncCallMiddleware")
    )
    async def test_exception_becomes_500_async(self):
        response = await AsyncClient(raise_request_exception=False).get("/sync/")
        self.assertEqual(response.status_code, 500)

    @override_settings(
        MIDDLEWARE=after_common_middleware("RaiseHttp404AsyncCallMiddleware")
    )
    def test_http404_becomes_404(self):
        """Http404 raised by an unmarked async middleware is a 404."""
        self.assertEqual(self.client.get("/sync/").status_code, 404)

    @override_settings(
        MIDDLEWARE=after_common_middleware("RaiseHttp404AsyncCallMiddleware")
    )
    async def test_http404_becomes_404_async(self):
        response = await self.async_client.get("/sync/")
        self.assertEqual(response.status_code, 404)

    def assertServerError(self, response, cm, received):
        self.assertEqual(response.status_code, 500)
        self.assertEqual(cm.records[0].getMessage(), "Internal Server Error: /sync/")
        self.assertEqual(received, ["/sync/"])

    def receive_request_exceptions(self):
        """Paths of the requests got_request_exception is sent for."""
        received = []

        def receiver(sender, request, **kwargs):
            received.append(request.path)

        got_request_exception.connect(receiver)
        self.addCleanup(got_request_exception.disconnect, receiver)
        return received

    @override_settings(
        MIDDLEWARE=[f"{SUPPORT_MODULE}.RaiseValueErrorAsyncCallMiddleware"]
    )
    def test_outermost_exception_becomes_500(self):
        """
        An exception raised by an unmarked async middleware first in MIDDLEWARE
        is a 500, logged to django.request and sent with got_request_exception,
        instead of propagating out of the handler.
        """
        received = self.receive_request_exceptions()
        with self.assertLogs("django.request", "ERROR") as cm:
            response = Client(raise_request_exception=False).get("/sync/")
        self.assertServerError(response, cm, received)

    @override_settings(
        MIDDLEWARE=[f"{SUPPORT_MODULE}.RaiseValueErrorAsyncCallMiddleware"]
    )
    async def test_outermost_exception_becomes_500_async(self):
        received = self.receive_request_exceptions()
        with self.assertLogs("django.request", "ERROR") as cm:
            response = await AsyncClient(raise_request_exception=False).get("/sync/")
        self.assertServerError(response, cm, received)

    @override_settings(
        MIDDLEWARE=after_common_middleware("UndeclaredAsyncCallMiddleware")
    )
    def test_undeclared_async_middleware_runs_async(self):
        """
        A middleware class with an async __call__() that sets neither flag
        runs in asynchronous mode.
        """
        response = self.client.get("/sync/")
        self.assertEqual(response.content, b"sync view")
        self.assertEqual(response["X-Async-Call"], "called")

    @override_settings(
        MIDDLEWARE=after_common_middleware("UndeclaredAsyncCallMiddleware")
    )
    async def test_undeclared_async_middleware_runs_async_async(self):
        response = await self.async_client.get("/sync/")
        self.assertEqual(response.content, b"sync view")
        self.assertEqual(response["X-Async-Call"], "called")

    @override_settings(
        MIDDLEWARE=after_common_middleware("MisdeclaredAsyncCallMiddleware")
    )
    def test_misdeclared_async_middleware_is_improperly_configured(self):
        """
        An async __call__() declared synchronous only raises
        ImproperlyConfigured when the middleware is loaded.
        """
        with self.assertRaisesMessage(ImproperlyConfigured, MISDECLARED_MESSAGE):
            self.client.get("/sync/")

    @override_settings(
        MIDDLEWARE=after_common_middleware("MisdeclaredAsyncCallMiddleware")
    )
    async def test_misdeclared_async_middleware_is_improperly_configured_async(self):
        with self.assertRaisesMessage(ImproperlyConfigured, MISDECLARED_MESSAGE):
            await self.async_client.get("/sync/")


class BranchingMiddlewareTests(SimpleTestCase):
    def test_async_callable_get_response(self):
        """
        Django's middleware that branch on get_response go async when it is an
        object with an async __call__().
        """
        get_response = AsyncCallView()
        for middleware_path in BRANCHING_MIDDLEWARE:
            with self.subTest(middleware=middleware_path):
                middleware = import_string(middleware_path)(get_response)
                self.assertIs(iscoroutinefunction(middleware), True)
