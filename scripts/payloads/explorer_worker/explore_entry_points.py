"""Run every entry point the series changes, in every form of callable, through
Django's real handlers and signals, and write what each case did as JSON: views
under each view and auth decorator (bare and stacked), user_passes_test() test
functions, signal receivers under send()/asend() from sync code and from a running
loop, RemoteUserMiddleware and MiddlewareMixin chains, middleware never reached,
and the WSGI and ASGI handlers built from the same settings.

Started by scripts/patchkit/checks/explorer.py, once per tree. The cases are
enumerated here, in a fixed order, from what this Django has; a case id is stable
across runs and is what LEDGER.md names.

usage: explore_entry_points.py RESULTS.json
"""

import asyncio
import datetime
import gc
import inspect
import logging
import re
import sys
import warnings

from django.conf import settings

ADDRESS = re.compile(r" at 0x[0-9a-f]+")
COROUTINE_NAME = re.compile(r"coroutine '[^']+'")
# The name Django gives a view in its errors is the wrapper's or the object's.
VIEW_NAME = re.compile(r"The view \S+ didn't")
VOLATILE_HEADERS = {"Age", "Date", "Expires", "Last-Modified"}


def configure_django():
    # The auth apps: RemoteUserMiddleware and the auth decorators import their models.
    from explore_chains import configure_django

    configure_django(
        SECRET_KEY="entry-point-differential",
        ROOT_URLCONF="entry_catalogue",
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        AUTHENTICATION_BACKENDS=["django.contrib.auth.backends.RemoteUserBackend"],
    )


# What a case did ---------------------------------------------------------------


class LoggedErrors(logging.Handler):
    """The exceptions Django logs while it turns them into 500 responses."""

    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            self.records.append(clean(f"{type(error).__name__}: {error}"))


def clean(text):
    text = VIEW_NAME.sub("The view ... didn't", ADDRESS.sub("", text))
    return COROUTINE_NAME.sub("coroutine '...'", text)


def observe(action, loop):
    """Run action(); return what it did: its result or exception, the effects in
    order with where each ran, warnings (an unawaited coroutine counts) and the
    errors Django logged."""
    import entry_catalogue

    entry_catalogue.EFFECTS.clear()
    logged = LoggedErrors()
    logger = logging.getLogger("django")
    logger.addHandler(logged)
    unraisable = []
    previous_hook = sys.unraisablehook
    sys.unraisablehook = lambda info: unraisable.append(
        clean(f"{type(info.exc_value).__name__}: {info.exc_value}")
    )
    observation, unawaited = {}, []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                observation["result"] = action()
            except NotAvailable as missing:
                return {"not_available": str(missing)}
            except Exception as error:
                observation["error"] = clean(f"{type(error).__name__}: {error}")
            # An unawaited coroutine warns when it is freed, which under ASGI can
            # be after the case (a thread still holds it). Find the case's
            # coroutines that never started and close them instead: the same
            # warning, always on the case that made them. Freezing what survives
            # keeps each scan and collection down to the next case's objects.
            loop.run_until_complete(asyncio.sleep(0))
            gc.collect()
            unawaited = [
                obj for obj in gc.get_objects()
                if asyncio.iscoroutine(obj) and getattr(obj, "cr_frame", None) is not None
                and inspect.getcoroutinestate(obj) == inspect.CORO_CREATED
            ]
            for coroutine in unawaited:
                coroutine.close()
            gc.freeze()
    finally:
        sys.unraisablehook = previous_hook
        logger.removeHandler(logged)
    if unawaited:
        unraisable.append("RuntimeWarning: coroutine '...' was never awaited")
    observation["warnings"] = sorted(
        {clean(f"{w.category.__name__}: {w.message}") for w in caught} | set(unraisable)
    )
    observation["logged"] = logged.records
    observation["effects"] = list(entry_catalogue.EFFECTS)
    return observation


class NotAvailable(Exception):
    """This Django has no such decorator, signal method or middleware."""


def response_data(status, headers, body):
    cookies = sorted(
        value.split("=", 1)[0] for name, value in headers.items() if name == "Set-Cookie"
    )
    kept = {
        name: ("<time>" if name in VOLATILE_HEADERS else value)
        for name, value in headers.items()
        if name != "Set-Cookie"
    }
    return {
        "status": status,
        "body": body.decode(errors="replace")[:200],
        "headers": dict(sorted(kept.items())),
        "cookies": cookies,
    }


def request(handler, loop, url="/v"):
    from explore_chains import run_asgi, run_wsgi

    if handler == "wsgi":
        return response_data(*run_wsgi(url))
    return response_data(*run_asgi(url, loop))


def serve(view, middleware, handler, loop):
    import entry_catalogue
    from django.core.cache import cache
    from django.urls import clear_url_caches, path

    entry_catalogue.urlpatterns[:] = [path("v", view)]
    clear_url_caches()
    cache.clear()  # cache_page must not answer for the view of an earlier case
    settings.MIDDLEWARE = middleware
    return request(handler, loop)


# Views under decorators ------------------------------------------------------


def decorator_table():
    """name -> (module, how to make the decorator from it)."""
    import entry_catalogue

    utc = datetime.timezone.utc
    return {
        "cache_control": ("django.views.decorators.cache", lambda m: m.cache_control(max_age=60)),
        "never_cache": ("django.views.decorators.cache", lambda m: m.never_cache),
        "cache_page": ("django.views.decorators.cache", lambda m: m.cache_page(60)),
        "xframe_options_deny": ("django.views.decorators.clickjacking",
                                lambda m: m.xframe_options_deny),
        "xframe_options_sameorigin": ("django.views.decorators.clickjacking",
                                      lambda m: m.xframe_options_sameorigin),
        "xframe_options_exempt": ("django.views.decorators.clickjacking",
                                  lambda m: m.xframe_options_exempt),
        "no_append_slash": ("django.views.decorators.common", lambda m: m.no_append_slash),
        "csp_override": ("django.views.decorators.csp", lambda m: m.csp_override({})),
        "csp_report_only_override": ("django.views.decorators.csp",
                                     lambda m: m.csp_report_only_override({})),
        "csrf_exempt": ("django.views.decorators.csrf", lambda m: m.csrf_exempt),
        "csrf_protect": ("django.views.decorators.csrf", lambda m: m.csrf_protect),
        "requires_csrf_token": ("django.views.decorators.csrf", lambda m: m.requires_csrf_token),
        "ensure_csrf_cookie": ("django.views.decorators.csrf", lambda m: m.ensure_csrf_cookie),
        "sensitive_variables": ("django.views.decorators.debug",
                                lambda m: m.sensitive_variables()),
        "sensitive_post_parameters": ("django.views.decorators.debug",
                                      lambda m: m.sensitive_post_parameters()),
        "require_GET": ("django.views.decorators.http", lambda m: m.require_GET),
        "require_safe": ("django.views.decorators.http", lambda m: m.require_safe),
        "condition": ("django.views.decorators.http",
                      lambda m: m.condition(etag_func=lambda request: '"e"')),
        "last_modified": ("django.views.decorators.http", lambda m: m.last_modified(
            lambda request: datetime.datetime(2020, 1, 1, tzinfo=utc))),
        "vary_on_headers": ("django.views.decorators.vary", lambda m: m.vary_on_headers("X-A")),
        "vary_on_cookie": ("django.views.decorators.vary", lambda m: m.vary_on_cookie),
        "gzip_page": ("django.views.decorators.gzip", lambda m: m.gzip_page),
        "decorator_from_middleware": ("django.utils.decorators",
                                      lambda m: m.decorator_from_middleware(entry_catalogue.Mixin)),
        "login_required": ("django.contrib.auth.decorators", lambda m: m.login_required),
        "permission_required_allowed": ("django.contrib.auth.decorators",
                                        lambda m: m.permission_required("app.allowed")),
        "permission_required_denied": ("django.contrib.auth.decorators",
                                       lambda m: m.permission_required("app.denied")),
        "user_passes_test": ("django.contrib.auth.decorators",
                             lambda m: m.user_passes_test(lambda user: True)),
    }


STACKS = [("never_cache", "login_required"), ("csrf_exempt", "require_GET", "vary_on_cookie")]


def make_decorator(name):
    import importlib

    module_name, build = decorator_table()[name]
    try:
        return build(importlib.import_module(module_name))
    except (ImportError, AttributeError) as error:
        raise NotAvailable(f"{name}: {error}") from None


def decorated_view(form, decorators):
    import entry_catalogue

    view = entry_catalogue.make(form, "view", entry_catalogue.page)
    for name in reversed(decorators):
        view = make_decorator(name)(view)
    return view


def view_cases():
    import entry_catalogue

    stacks = [()] + [(name,) for name in decorator_table()] + STACKS
    for decorators in stacks:
        for form, (_, twin) in entry_catalogue.FORMS.items():
            for handler in ("wsgi", "asgi"):
                base = f"view/{'+'.join(decorators) or 'bare'}"
                yield {
                    "id": f"{base}/{form}/{handler}",
                    "twin": twin and f"{base}/{twin}/{handler}",
                    "run": lambda loop, d=decorators, f=form, h=handler: serve(
                        decorated_view(f, d), ["entry_catalogue.UserStub"], h, loop
                    ),
                }


# user_passes_test() test functions -----------------------------------------------


def auth_view(test_form, passes, view_form):
    import entry_catalogue

    try:
        from django.contrib.auth.decorators import user_passes_test
    except ImportError as error:
        raise NotAvailable(str(error)) from None
    test = entry_catalogue.make(test_form, "test", lambda user: passes)
    return user_passes_test(test)(entry_catalogue.make(view_form, "view", entry_catalogue.page))


def auth_cases():
    import entry_catalogue

    forms = entry_catalogue.FORMS
    for test_form in entry_catalogue.RECEIVER_FORMS:
        for passes in (True, False):
            for view_form in ("sync_function", "async_function", "async_call"):
                for handler in ("wsgi", "asgi"):
                    outcome = "passes" if passes else "fails"
                    test_twin = forms[test_form][1] or test_form
                    view_twin = forms[view_form][1] or view_form
                    twin = f"auth/user_passes_test/{test_twin}/{outcome}/{view_twin}/{handler}"
                    case_id = f"auth/user_passes_test/{test_form}/{outcome}/{view_form}/{handler}"
                    yield {
                        "id": case_id,
                        "twin": twin if twin != case_id else None,
                        "run": lambda loop, t=test_form, p=passes, v=view_form, h=handler: serve(
                            auth_view(t, p, v), ["entry_catalogue.UserStub"], h, loop
                        ),
                    }


# Signal receivers ------------------------------------------------------------------


def responses_data(receivers, responses):
    """(which receiver, what it returned) for each response, by connection order."""
    order = {id(receiver): number for number, receiver in enumerate(receivers)}
    return [
        [order.get(id(receiver), "?"),
         "<coroutine>" if asyncio.iscoroutine(value) else repr(value)]
        for receiver, value in responses
    ]


def signal_run(receiver_forms, mode, loop):
    import entry_catalogue
    from django.dispatch import Signal

    signal = Signal()
    receivers = [
        entry_catalogue.make(form, f"receiver{number}", lambda **kwargs: "done")
        for number, form in enumerate(receiver_forms)
    ]
    for receiver in receivers:
        signal.connect(receiver, weak=False)
    if mode in ("send", "send_robust"):
        return responses_data(receivers, getattr(signal, mode)(sender=None))
    if mode in ("asend", "asend_robust") and not hasattr(signal, mode):
        raise NotAvailable(f"Signal.{mode}()")

    async def in_loop():
        if mode in ("asend", "asend_robust"):
            return responses_data(receivers, await getattr(signal, mode)(sender=None))
        send = signal.send_robust if mode == "send_robust_in_loop" else signal.send
        responses = send(sender=None)
        if mode == "send_in_loop_awaited":
            responses = [(r, await v if asyncio.iscoroutine(v) else v) for r, v in responses]
        return responses_data(receivers, responses)

    return loop.run_until_complete(in_loop())


SIGNAL_MODES = ("send", "send_robust", "send_in_loop_awaited", "send_in_loop_unawaited",
                "send_robust_in_loop", "asend", "asend_robust")


def signal_cases():
    import entry_catalogue

    groups = [[form] for form in entry_catalogue.RECEIVER_FORMS] + [
        ["sync_function", "async_call"], ["sync_function", "async_function"]]
    for mode in SIGNAL_MODES:
        for forms in groups:
            twins = [entry_catalogue.FORMS[form][1] or form for form in forms]
            yield {
                "id": f"signal/{mode}/{'+'.join(forms)}",
                "twin": twins != forms and f"signal/{mode}/{'+'.join(twins)}",
                "run": lambda loop, f=forms, m=mode: signal_run(f, m, loop),
            }


# Middleware: RemoteUserMiddleware, MiddlewareMixin, never reached, both handlers ------


CHAINS = [
    ["user", "remote_user", "async_only"],
    ["user", "remote_user", "marked_async_only"],
    ["user", "remote_user"],
    ["mixin", "async_only"],
    ["mixin", "marked_async_only"],
    ["early", "misdeclared"],
    ["early", "hybrid_flags"],
    ["early", "async_only"],
    ["raising_async_only"],
    ["marked_raising_async_only"],
]


def chain_run(chain, handler, loop):
    import entry_catalogue

    paths = [entry_catalogue.MIDDLEWARE_PATHS[name] for name in chain]
    view = entry_catalogue.make("async_function", "view", entry_catalogue.page)
    return serve(view, paths, handler, loop)


def both_handlers_run(chain, loop):
    """Build the WSGI and the ASGI handler from the same settings, as a project that
    has both wsgi.py and asgi.py does; serve one request through ASGI."""
    import entry_catalogue
    from django.core.exceptions import ImproperlyConfigured
    from django.core.handlers.wsgi import WSGIHandler

    settings.MIDDLEWARE = [entry_catalogue.MIDDLEWARE_PATHS[name] for name in chain]
    try:
        WSGIHandler()
        wsgi = "built"
    except ImproperlyConfigured as error:
        wsgi = f"ImproperlyConfigured: {clean(str(error))}"
    view = entry_catalogue.make("async_function", "view", entry_catalogue.page)
    return {"wsgi_handler": wsgi,
            "asgi_request": serve(view, settings.MIDDLEWARE, "asgi", loop)}


def middleware_cases():
    for chain in CHAINS:
        twin = [f"marked_{name}" if name.endswith("async_only") and not name.startswith(
            "marked_") else name for name in chain]
        has_twin = twin != chain and twin in CHAINS
        for handler in ("wsgi", "asgi"):
            yield {
                "id": f"middleware/{'+'.join(chain)}/{handler}",
                "twin": has_twin and f"middleware/{'+'.join(twin)}/{handler}",
                "run": lambda loop, c=chain, h=handler: chain_run(c, h, loop),
            }
    for chain in (["hybrid_flags"], ["misdeclared"], ["marked_async_only"]):
        yield {
            "id": f"load/both_handlers/{'+'.join(chain)}",
            "twin": None,
            "run": lambda loop, c=chain: both_handlers_run(c, loop),
        }


def main(argv):
    (results_path,) = argv
    configure_django()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    results = []
    for family in (view_cases, auth_cases, signal_cases, middleware_cases):
        for case in family():
            observation = observe(lambda: case["run"](loop), loop)
            results.append({"id": case["id"], "twin": case["twin"] or None, **observation})
    loop.close()
    from explore_chains import write_report

    write_report(results_path, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
