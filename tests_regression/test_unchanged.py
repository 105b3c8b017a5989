"""
Sites in django/ that decide whether a callable is asynchronous and that the
series leaves on iscoroutinefunction() on purpose (LEDGER.md, "unchanged on
purpose"). Each test pins what they do with an object whose class defines
async def __call__(), so it passes on the release and on the series alike:
they are pinned_tests in scripts/releases.json.
"""

import inspect

from django.conf import settings
from django.test import SimpleTestCase, override_settings
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.generic import View


class ReturnsSetting:
    async def __call__(self, *args):
        return settings.PINNED_SETTING


class AsyncCallHandlerView(View):
    get = ReturnsSetting()


class UnchangedSitesTests(SimpleTestCase):
    def test_sensitive_variables(self):
        """
        sensitive_variables() gives such an object a synchronous wrapper, which
        hands back the object's coroutine without awaiting it.
        """
        wrapped = sensitive_variables("password")(ReturnsSetting())
        result = wrapped()
        self.assertIs(inspect.iscoroutine(result), True)
        result.close()

    def test_view_is_async(self):
        """
        A class-based view's HTTP handlers are methods: an object assigned as
        one doesn't make the view asynchronous.
        """
        self.assertIs(AsyncCallHandlerView.view_is_async, False)

    def test_method_decorator(self):
        """method_decorator() decorates methods, which objects aren't."""

        class Decorated:
            handler = method_decorator(never_cache)(ReturnsSetting())

        with self.assertRaises(AttributeError):
            Decorated().handler(None)

    @override_settings(PINNED_SETTING="outside")
    async def test_override_settings_decorator(self):
        """
        A test decorator wraps such an object synchronously: the coroutine runs
        after the decorator has restored the settings.
        """
        wrapped = override_settings(PINNED_SETTING="inside")(ReturnsSetting())
        self.assertEqual(await wrapped(), "outside")
