"""`test --compare-pristine` end to end on the fake release, whose tests/runtests.py
stands in for Django's: it reports which Django it tests and writes outcomes where
the recording runner would."""

import json
import sys

import pytest

from conftest import FAKE_FILES, commit_all, make_sdist
from patchkit.cli import main
from patchkit.core import workspace

FAKE_RUNTESTS = """\
import json, os, sys, unittest
from pathlib import Path

# Like an installed Django: importable, but after anything on PYTHONPATH.
sys.path.append(str(Path(__file__).resolve().parent.parent))
import django
import django.core

print(f"Testing against Django installed in '{Path(django.__file__).parent}'")
new = "pass" if django.core.is_async(lambda: None) else "fail"
old = "pass" if django.core.OLD_BEHAVIOUR else "fail"
outcomes = {"basic.tests.BasicTests.test_old": old}
if (Path(__file__).parent / "basic" / "NEW_TEST").exists():
    outcomes["basic.tests.BasicTests.test_new"] = new
# A label that does not import becomes unittest's _FailedTest, as in Django's runner.
args = sys.argv[1:]
labels = [a for i, a in enumerate(args) if a[0] != "-" and args[i - 1][0] != "-"]
for suite in unittest.defaultTestLoader.loadTestsFromNames(labels):
    for test in suite:
        if type(test).__name__ == "_FailedTest":
            outcomes[test.id()] = "error"
Path(os.environ["PATCHSET_RESULTS"]).write_text(json.dumps(outcomes))
sys.exit(0 if "fail" not in outcomes.values() else 1)
"""


@pytest.fixture
def fake_django_tests(project, tmp_path, monkeypatch):
    """Give the fake release a runtests.py and skip the pip install (no network)."""
    files = dict(FAKE_FILES)
    files["tests/runtests.py"] = FAKE_RUNTESTS
    files["django/core.py"] += "OLD_BEHAVIOUR = True\n"
    sdist = tmp_path / "cache" / "sdists" / "django-6.1.3.tar.gz"
    manifest_path = tmp_path / "releases.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["series"]["6.1"]["sha256"] = make_sdist(sdist, "6.1.3", files)
    manifest_path.write_text(json.dumps(manifest))
    monkeypatch.setattr(workspace, "install_fork", lambda python, fork, requirements=None: None)
    return project


def write_series(tmp_path, core_source):
    fork = tmp_path / "author_fork"
    assert main(["materialize", "--dest", str(fork)]) == 0
    (fork / "django" / "core.py").write_text(core_source)
    (fork / "tests" / "basic" / "tests.py").write_text(
        FAKE_FILES["tests/basic/tests.py"] + "\n    def test_new(self):\n        pass\n"
    )
    (fork / "tests" / "basic" / "NEW_TEST").write_text("")
    commit_all(fork, "Fixed #1 -- Made is_async() look at __call__.")
    assert main(["export", "--fork", str(fork)]) == 0


def run_test_command(tmp_path, compare=True, labels=()):
    command = ["test", "--series", "6.1", "--python", sys.executable]
    command += ["--workdir", str(tmp_path / "work")]
    command += ["--labels", *labels] if labels else []
    return main(command + (["--compare-pristine"] if compare else []))


def test_red_then_green_passes(fake_django_tests, tmp_path, capsys):
    write_series(tmp_path, "def is_async(obj):\n    return True\nOLD_BEHAVIOUR = True\n")
    capsys.readouterr()

    assert run_test_command(tmp_path) == 0

    out = capsys.readouterr().out
    assert "  new tests              1\n  red -> green           1\n" in out
    assert "\nverdict: OK (red/green, series 6.1 (Django 6.1.3) on Python " in out


def test_changed_outcome_of_an_old_test_fails(fake_django_tests, tmp_path, capsys):
    write_series(tmp_path, "def is_async(obj):\n    return True\nOLD_BEHAVIOUR = False\n")
    capsys.readouterr()

    assert run_test_command(tmp_path) == 1

    out = capsys.readouterr().out
    assert (
        "    basic.tests.BasicTests.test_old: reverted pass, patched fail (outcome changed)\n"
    ) in out
    assert "\nverdict: FAILED (red/green, series 6.1 (Django 6.1.3) on Python " in out


def test_without_comparing_runtests_failure_is_exit_1(fake_django_tests, tmp_path):
    write_series(tmp_path, "def is_async(obj):\n    return True\nOLD_BEHAVIOUR = False\n")

    assert run_test_command(tmp_path, compare=False) == 1


def test_empty_series_passes_trivially(fake_django_tests, tmp_path, capsys):
    assert run_test_command(tmp_path) == 0
    assert "  new tests              0\n" in capsys.readouterr().out


def test_a_label_that_imports_nothing_fails_the_comparison(fake_django_tests, tmp_path, capsys):
    write_series(tmp_path, "def is_async(obj):\n    return True\nOLD_BEHAVIOUR = True\n")
    capsys.readouterr()

    assert run_test_command(tmp_path, labels=["basic", "nonexistent_label"]) == 1

    out = capsys.readouterr().out
    assert (
        "  import/setup failures  2\n"
        "    unittest.loader._FailedTest.nonexistent_label (patched)\n"
        "    unittest.loader._FailedTest.nonexistent_label (reverted)\n"
    ) in out
    assert "\nverdict: FAILED (red/green, series 6.1 (Django 6.1.3) on Python " in out


# `setup`'s report, from fake runtests.py outcomes: Django's own tests that fail on
# this machine fail on the release too, and the report must say they are not the
# series' doing, with the verdict first.
RELEASE_FAILURE = "basic.test_deprecation.MiddlewareMixinTests.test_warn_about_implementation"
NEW_TEST = "basic.tests.AsyncCallableTests.test_unmarked"
OLD_TEST = "basic.tests.BasicTests.test_old"


@pytest.fixture
def fake_setup_runs(project, tmp_path, monkeypatch):
    """Make `setup` run no git, pip or Django: the trees are fixed paths and each
    runtests.py run returns the outcomes given to the fixture's function."""
    from patchkit import cli
    from patchkit.checks import labels

    monkeypatch.setattr(cli, "PROJECT_DIR", project)
    trees = workspace.Trees(None, tmp_path / "fork", tmp_path / "reverted")
    monkeypatch.setattr(labels, "prepare", lambda *args, **kwargs: (trees, "/venv/bin/python"))
    monkeypatch.setattr(labels, "python_version_of", lambda python: "3.12.1")
    monkeypatch.setattr(labels, "new_test_ids", lambda fork, release: {NEW_TEST})
    monkeypatch.setattr(labels, "regression_dir", lambda: tmp_path / "no_regression_app")

    def give(patched, reverted):
        def run_runtests(python, tree, labels, parallel, import_from_tree, **kwargs):
            outcomes = reverted if import_from_tree else patched
            return (1 if {"fail", "error"} & set(outcomes.values()) else 0), dict(outcomes)

        monkeypatch.setattr(labels, "run_runtests", run_runtests)

    return give


def setup_report(capsys):
    """What `setup` prints from the blank line before its report to the end."""
    return capsys.readouterr().out.split("\n\n", 1)[1]


def test_setup_says_failures_shared_with_the_release_are_not_the_series(
    fake_setup_runs, project, tmp_path, capsys
):
    fake_setup_runs(
        patched={NEW_TEST: "pass", OLD_TEST: "pass", RELEASE_FAILURE: "fail"},
        reverted={NEW_TEST: "fail", OLD_TEST: "pass", RELEASE_FAILURE: "fail"},
    )

    assert main(["setup"]) == 0

    assert setup_report(capsys) == (
        "verdict: OK (red/green, series 6.1 (Django 6.1.3) on Python 3.12.1)\n"
        "  failing, caused by the series                        0\n"
        "  failing the same way on the release (not the series) 1\n"
        f"    {RELEASE_FAILURE}: reverted fail, patched fail\n"
        "  tests recorded         patched 3, reverted 3\n"
        "  new tests              1\n"
        "  red -> green           1\n"
        "  new, skipped on both   0\n"
        "  new, pinned (pass on both) 0\n"
        "  same outcome on both   2\n"
        "  violations             0\n"
        "  import/setup failures  0\n"
        "Run Django's tests by hand with:\n"
        f"  cd {tmp_path / 'fork' / 'tests'} && /venv/bin/python runtests.py middleware\n"
    )


def test_setup_names_the_failures_the_series_causes_first(
    fake_setup_runs, project, tmp_path, capsys
):
    fake_setup_runs(
        patched={NEW_TEST: "fail", OLD_TEST: "error", RELEASE_FAILURE: "fail"},
        reverted={NEW_TEST: "fail", OLD_TEST: "pass", RELEASE_FAILURE: "fail"},
    )

    assert main(["setup"]) == 1

    report = setup_report(capsys)
    assert report.startswith(
        "verdict: FAILED (red/green, series 6.1 (Django 6.1.3) on Python 3.12.1)\n"
        "  failing, caused by the series                        2\n"
        f"    {NEW_TEST}: reverted fail, patched fail\n"
        f"    {OLD_TEST}: reverted pass, patched error\n"
        "  failing the same way on the release (not the series) 1\n"
        f"    {RELEASE_FAILURE}: reverted fail, patched fail\n"
    )
    assert (
        "  violations             2\n"
        f"    {NEW_TEST}: reverted fail, patched fail (new test must be red then green)\n"
        f"    {OLD_TEST}: reverted pass, patched error (outcome changed)\n"
    ) in report


def test_setup_prints_no_per_tree_exit_status_when_comparing(fake_setup_runs, project, capsys):
    fake_setup_runs(
        patched={NEW_TEST: "pass", RELEASE_FAILURE: "fail"},
        reverted={NEW_TEST: "fail", RELEASE_FAILURE: "fail"},
    )

    assert main(["setup"]) == 0

    out = capsys.readouterr().out
    logs = project / ".logs"
    assert (
        "Running 1 label(s) on the patched and reverted trees...\n"
        "Patched tree: 2 tests recorded\n"
        f"  full output: {logs / '6.1-patched.log'}\n"
        "Reverted tree: 2 tests recorded\n"
        f"  full output: {logs / '6.1-reverted.log'}\n"
        "\n"
        "verdict: OK"
    ) in out
    assert "exit" not in out


def test_scope_new_tests_runs_only_the_modules_of_the_new_tests(project, tmp_path, monkeypatch):
    from patchkit import cli
    from patchkit.checks import labels

    monkeypatch.setattr(cli, "PROJECT_DIR", project)
    trees = workspace.Trees(None, tmp_path / "fork", tmp_path / "reverted")
    monkeypatch.setattr(labels, "prepare", lambda *args, **kwargs: (trees, "/venv/bin/python"))
    monkeypatch.setattr(labels, "python_version_of", lambda python: "3.13.0")
    new_ids = {NEW_TEST, "async_callable_regression.tests.AsyncCallMiddlewareTests.test_x"}
    monkeypatch.setattr(labels, "new_test_ids", lambda fork, release: new_ids)
    seen = []

    def run_runtests(python, tree, labels, parallel, import_from_tree, **kwargs):
        seen.append(list(labels))
        return 0, {test_id: "error" if import_from_tree else "pass" for test_id in new_ids}

    monkeypatch.setattr(labels, "run_runtests", run_runtests)
    command = ["test", "--series", "6.1", "--python", sys.executable, "--compare-pristine"]
    assert main([*command, "--workdir", str(tmp_path / "work"), "--scope", "new-tests"]) == 0
    assert seen == [["async_callable_regression.tests", "basic.tests"]] * 2
