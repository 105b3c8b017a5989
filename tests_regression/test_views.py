import django
from django.test import SimpleTestCase, override_settings

DECORATED_URLS = [
    "/cache_control/",
    "/csrf_exempt/",
    "/never_cache/",
    "/require_GET/",
    "/vary_on_headers/",
    "/xframe_options_deny/",
]
decorators_know_async = django.VERSION >= (5, 0)


@override_settings(ROOT_URLCONF="async_callable_regression.urls", MIDDLEWARE=[])
class AsyncCallViewTests(SimpleTestCase):
    def assertObjectViewResponse(self, response):
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content, b"object view")

    def test_async_call_view(self):
        """An object with an async __call__() is an async view under WSGI."""
        self.assertObjectViewResponse(self.client.get("/object/"))

    async def test_async_call_view_async(self):
        self.assertObjectViewResponse(await self.async_client.get("/object/"))

    def test_decorated_async_call_view(self):
        """View decorators return async wrappers for such objects."""
        if not decorators_know_async:
            self.skipTest("view decorators are async-aware since Django 5.0")
        for url in DECORATED_URLS:
            with self.subTest(url=url):
                self.assertObjectViewResponse(self.client.get(url))

    async def test_decorated_async_call_view_async(self):
        if not decorators_know_async:
            self.skipTest("view decorators are async-aware since Django 5.0")
        for url in DECORATED_URLS:
            with self.subTest(url=url):
                self.assertObjectViewResponse(await self.async_client.get(url))
