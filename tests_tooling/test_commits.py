import patchkit.checks.commits as commitcheck
from conftest import git


class Release:
    version, series, stand_in, base_name = "6.1.3", "6.1", None, "Django 6.1.3"


def commit(repo, message):
    git(["add", "-A"], repo)
    git(["-c", "user.name=a", "-c", "user.email=a@b", "commit", "-q", "-m", message], repo)


def test_call_sites_come_from_the_series_diff(tmp_path):
    repo = tmp_path / "fork"
    (repo / "django" / "utils").mkdir(parents=True)
    views = repo / "django" / "views.py"
    views.write_text(
        "from inspect import iscoroutinefunction\n\n"
        "def pick(view):\n    return iscoroutinefunction(view)\n"
    )
    (repo / "django" / "utils" / "inspect.py").write_text("import inspect\n")
    git(["init", "-q"], repo)
    commit(repo, "Release.")
    git(["tag", "upstream/6.1.3"], repo)
    views.write_text(
        "from django.utils.inspect import is_coroutine_callable\n\n"
        "def pick(view):\n    return is_coroutine_callable(view)\n"
    )
    (repo / "django" / "utils" / "inspect.py").write_text(
        "import inspect\n\n\ndef is_coroutine_callable(obj):\n"
        "    return is_coroutine_callable(obj.func)\n"
    )
    commit(repo, "Series.")

    sites = commitcheck.helper_call_sites(repo, Release)

    assert sites == [
        commitcheck.CallSite("django/views.py", 4, "return is_coroutine_callable(view)")
    ]
    assert commitcheck.series_check_module(repo) == "inspect"


def test_a_mutant_calls_the_series_check_instead():
    line = "        if is_coroutine_callable(view) and is_coroutine_callable(x):\n"
    assert commitcheck.mutated_line(line, "asgiref.sync") == (
        '        if __import__("asgiref.sync", fromlist=["_"]).iscoroutinefunction(view)'
        " and is_coroutine_callable(x):\n"
    )


def test_labels_are_the_modules_of_the_tests():
    assert commitcheck.test_module_labels(
        ["a.tests.T.test_x", "a.tests.T.test_y", "b.test_z.U.test_w"]
    ) == ["a.tests", "b.test_z"]


def test_a_commit_without_tests_fails_the_check():
    results = [
        commitcheck.CommitResult("a" * 40, "Refs #1 -- Did.", 0, 0, 0, []),
        commitcheck.CommitResult("b" * 40, "Refs #1 -- Tested.", 2, 2, 0, []),
    ]
    report, ok = commitcheck.format_commit_results(Release, "/no/python", results)
    assert not ok
    assert report.endswith(f"Problems:\n  {'a' * 12}: the commit adds no test")
