import textwrap

import pytest

import patchkit.checks.neutralise as neutralise
from conftest import git
from patchkit.core.errors import CommandError


class Release:
    version, series, stand_in, base_name = "6.1.3", "6.1", None, "Django 6.1.3"


def commit(repo, message):
    git(["add", "-A"], repo)
    git(["-c", "user.name=a", "-c", "user.email=a@b", "commit", "-q", "-m", message], repo)


def write(repo, path, source):
    file = repo / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(textwrap.dedent(source))


# Django-shaped decorators: direct ones, factories, a factory of factories, one
# that only calls another, and a helper that is no decorator.
CACHE = """\
from functools import wraps

from django.utils.decorators import decorator_from_middleware_with_args


def cache_page(timeout):
    return decorator_from_middleware_with_args(object)(timeout)


def _check_request(request, name):
    if not hasattr(request, "META"):
        raise TypeError(name)


def cache_control(**kwargs):
    def _cache_controller(viewfunc):
        def _view_wrapper(request, *args, **kw):
            _check_request(request, "cache_control")
            return viewfunc(request, *args, **kw)

        return wraps(viewfunc)(_view_wrapper)

    return _cache_controller


def never_cache(view_func):
    def _view_wrapper(request, *args, **kwargs):
        _check_request(request, "never_cache")
        response = view_func(request, *args, **kwargs)
        return response

    return wraps(view_func)(_view_wrapper)
"""

UTILS = """\
from functools import wraps


def decorator_from_middleware_with_args(middleware_class):
    return make_middleware_decorator(middleware_class)


def make_middleware_decorator(middleware_class):
    def _make_decorator(*m_args, **m_kwargs):
        def _decorator(view_func):
            def _view_wrapper(request, *args, **kwargs):
                return view_func(request, *args, **kwargs)

            return wraps(view_func)(_view_wrapper)

        return _decorator

    return _make_decorator
"""


def make_series(tmp_path):
    repo = tmp_path / "fork"
    write(repo, "django/views/decorators/cache.py", CACHE)
    write(repo, "django/utils/decorators.py", UTILS)
    write(repo, "django/views/generic/base.py", "def view_is_async(cls):\n    return False\n")
    git(["init", "-q"], repo)
    commit(repo, "Release.")
    git(["tag", "upstream/6.1.3"], repo)
    patched = (
        CACHE.replace(
            "    return decorator_from", "    timeout = int(timeout)\n    return decorator_from"
        )
        .replace("raise TypeError(name)", 'raise TypeError(f"{name}()")')
        .replace(
            "        response = view_func(request, *args, **kwargs)\n        return response\n",
            "        return view_func(request, *args, **kwargs)\n",
        )
        # A line removed, none added: the change is seen in the old file only.
        .replace('            _check_request(request, "cache_control")\n', "")
    )
    write(repo, "django/views/decorators/cache.py", patched)
    write(repo, "django/views/generic/base.py", "def view_is_async(cls):\n    return True\n")
    commit(repo, "Series.")
    return repo


def test_the_decorators_come_from_the_series_diff(tmp_path):
    repo = make_series(tmp_path)

    decorators, others = neutralise.series_decorators(repo, Release)

    # cache_page only calls a decorator of another file, yet it is one; the
    # untouched make_middleware_decorator and the view outside the decorator
    # files are not listed; _check_request is touched but is no decorator.
    assert [(d.path, d.name) for d in decorators] == [
        ("django/views/decorators/cache.py", "cache_page"),
        ("django/views/decorators/cache.py", "cache_control"),
        ("django/views/decorators/cache.py", "never_cache"),
    ]
    assert [(o.path, o.name, o.line) for o in others] == [
        ("django/views/decorators/cache.py", "_check_request", 11)
    ]


def test_a_removed_line_touches_the_function_it_was_in():
    diff = textwrap.dedent(
        """\
        --- a/django/utils/decorators.py
        +++ b/django/utils/decorators.py
        @@ -12 +11,0 @@ def a():
        -            x = 1
        @@ -20,0 +20,2 @@ def b():
        +    y = 2
        +    z = 3
        """
    )
    assert neutralise.touched_lines(diff) == {
        "django/utils/decorators.py": ({12}, {20, 21}),
    }


def test_an_untouched_series_changes_no_decorator(tmp_path):
    repo = tmp_path / "fork"
    write(repo, "django/views/decorators/cache.py", CACHE)
    git(["init", "-q"], repo)
    commit(repo, "Release.")
    git(["tag", "upstream/6.1.3"], repo)
    write(repo, "django/views/decorators/cache.py", CACHE + "\nX = 1\n")
    commit(repo, "Series.")

    assert neutralise.series_decorators(repo, Release) == ([], [])


# The neutralisation: run the transformed module, no fork needed ------------------

DECORATORS = """\
from functools import wraps


def never_cache(view_func):
    def _view_wrapper(request):
        return view_func(request) + " never_cache"

    return wraps(view_func)(_view_wrapper)


def vary_on_headers(*headers):
    def decorator(func):
        @wraps(func)
        def _view_wrapper(request):
            return func(request) + " vary " + ",".join(headers)

        return _view_wrapper

    return decorator


vary_on_cookie = vary_on_headers("Cookie")


def require_http_methods(request_method_list):
    def decorator(func):
        @wraps(func)
        def inner(request):
            return func(request) if request in request_method_list else "405"

        return inner

    return decorator


def condition(etag_func=None, last_modified_func=None):
    def decorator(func):
        @wraps(func)
        def inner(request):
            return func(request) + " etag " + etag_func(request)

        return inner

    return decorator


def user_passes_test(test_func, login_url=None, redirect_field_name="next"):
    def decorator(view_func):
        def _view_wrapper(request):
            return view_func(request) if test_func(request) else "302"

        return wraps(view_func)(_view_wrapper)

    return decorator


def login_required(function=None, login_url=None):
    actual_decorator = user_passes_test(lambda request: request == "POST", login_url=login_url)
    if function:
        return actual_decorator(function)
    return actual_decorator


def make_middleware_decorator(middleware_class):
    def _make_decorator(*m_args, **m_kwargs):
        def _decorator(view_func):
            @wraps(view_func)
            def _view_wrapper(request):
                return view_func(request) + " " + middleware_class

            return _view_wrapper

        return _decorator

    return _make_decorator


def sensitive_variables(*variables):
    def decorator(func):
        func.sensitive_variables = variables
        return func

    return decorator"""


def view(request):
    return "body"


def load(source):
    namespace = {}
    exec(compile(source, "decorators.py", "exec"), namespace)
    return namespace


# (decorator, how a view is decorated with it, the response the real one gives)
CASES = [
    ("never_cache", lambda d: d["never_cache"](view), "body never_cache"),
    ("vary_on_headers", lambda d: d["vary_on_headers"]("X")(view), "body vary X"),
    ("vary_on_headers", lambda d: d["vary_on_cookie"](view), "body vary Cookie"),
    ("require_http_methods", lambda d: d["require_http_methods"](["POST"])(view), "405"),
    ("condition", lambda d: d["condition"](etag_func=lambda r: "1")(view), "body etag 1"),
    ("condition", lambda d: d["condition"](lambda r: "1")(view), "body etag 1"),
    ("user_passes_test", lambda d: d["user_passes_test"](lambda r: False)(view), "302"),
    ("user_passes_test", lambda d: d["login_required"](view), "302"),
    ("user_passes_test", lambda d: d["login_required"](login_url="/in/")(view), "302"),
    ("make_middleware_decorator", lambda d: d["make_middleware_decorator"]("M")()(view), "body M"),
]


@pytest.mark.parametrize(("name", "decorate", "effect"), CASES)
def test_a_neutralised_decorator_hands_back_the_view(name, decorate, effect, tmp_path):
    hits = tmp_path / "hits"
    assert decorate(load(DECORATORS))("GET") == effect  # the real one has an effect

    neutralised = load(neutralise.neutralised_source(DECORATORS, name, hits))

    assert decorate(neutralised) is view
    assert hits.read_text() == f"{name}\n"


def test_neutralising_one_decorator_leaves_the_others(tmp_path):
    neutralised = load(neutralise.neutralised_source(DECORATORS, "never_cache", tmp_path / "h"))
    assert neutralised["vary_on_headers"]("X")(view)("GET") == "body vary X"
    assert neutralised["never_cache"].__name__ == "never_cache"


def test_a_decorator_that_returns_the_view_itself_is_counted(tmp_path):
    hits = tmp_path / "hits"
    neutralised = load(neutralise.neutralised_source(DECORATORS, "sensitive_variables", hits))
    assert neutralised["sensitive_variables"]("password")(view) is view
    assert hits.read_text() == "sensitive_variables\n"


def test_only_a_top_level_function_can_be_neutralised(tmp_path):
    with pytest.raises(CommandError, match=r"no top-level function _view_wrapper\(\)"):
        neutralise.neutralised_source(DECORATORS, "_view_wrapper", tmp_path / "h")


# The verdict ----------------------------------------------------------------------


def result(name, red, views):
    return neutralise.DecoratorResult(neutralise.Decorator("django/x.py", name, 1), red, views)


def test_a_survivor_fails_the_check():
    results = [
        result("never_cache", ["decorators.tests.T.test_header"], 2),
        result("csrf_exempt", [], 4),
        # Red tests without the decorator ever handing back a view are no kill.
        result("condition", ["decorators.tests.T.test_other"], 0),
    ]
    report, ok = neutralise.format_neutralise_results(Release, "/no/python", results)
    assert not ok
    assert "never_cache  django/x.py:1  2" in report
    assert "decorators.tests.T.test_header\n" in report
    assert "csrf_exempt  django/x.py:1  4                  0          SURVIVED\n" in report
    assert "SURVIVED (tests went red, but it was never applied to a view)" in report
    assert report.endswith("  decorators killed: 1 of 3")


def test_every_decorator_killed_passes():
    results = [result("never_cache", ["decorators.tests.T.test_header"], 2)]
    report, ok = neutralise.format_neutralise_results(Release, "/no/python", results)
    assert ok
    assert report.endswith("  decorators killed: 1 of 1")


def test_jobs_share_the_trees_one_task_at_a_time():
    import threading
    import time

    busy, lock, overlaps = set(), threading.Lock(), []

    def run(tree, task):
        with lock:
            overlaps.append(tree in busy)
            busy.add(tree)
        time.sleep(0.01)
        with lock:
            busy.discard(tree)
        return task * 10

    assert neutralise.run_jobs(list(range(6)), ["tree-1", "tree-2"], run) == [
        0,
        10,
        20,
        30,
        40,
        50,
    ]
    assert overlaps == [False] * 6
