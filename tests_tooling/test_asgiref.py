"""The asgiref companion series: pinned like Django's sdists, built by the same fork
machinery, its suite judged red/green, and the Django comparison's asgiref rule."""

import json
import os
from pathlib import Path

import pytest

from conftest import commit_all, git, make_sdist

ASGIREF_FILES = {
    "asgiref/__init__.py": '__version__ = "3.13.0"\n',
    "asgiref/sync.py": "def is_async(obj):\n    return False\n",
    "tests/test_sync.py": "def test_old():\n    pass\n",
    "tox.ini": "[tox]\n",
    "PKG-INFO": "Name: asgiref\n",
}


@pytest.fixture
def asgiref_project(project, tmp_path):
    """The project fixture plus a fake asgiref 3.13.0 sdist pinned in the manifest."""
    sha = make_sdist(
        tmp_path / "cache" / "sdists" / "asgiref-3.13.0.tar.gz", "3.13.0", ASGIREF_FILES
    )
    manifest = Path(os.environ["PATCHSET_MANIFEST"])
    data = json.loads(manifest.read_text())
    data["asgiref"] = {
        "version": "3.13.0",
        "sha256": sha,
        "pythons": ["3.12"],
        "dependent_tests": ["basic.tests.BasicTests.test_pinned"],
        "removes_limitations": ["partial-object-wsgi-warning"],
    }
    manifest.write_text(json.dumps(data))
    return project


@pytest.fixture
def asgiref_patch(asgiref_project, tmp_path):
    """patches/asgiref/0001-*.patch exported from a materialized asgiref fork."""
    from patchkit.cli import main

    fork = tmp_path / "asgiref_fork"
    assert main(["materialize", "--series", "asgiref", "--dest", str(fork)]) == 0
    (fork / "asgiref" / "sync.py").write_text(
        "def is_async(obj):\n    return callable(getattr(type(obj), '__call__', None))\n"
    )
    (fork / "tests" / "test_callables.py").write_text(
        "def test_new():\n    pass\n\n\nclass TestShapes:\n    def test_shape(self):\n"
        "        pass\n"
    )
    commit_all(fork, "Made is_async() look at the type.")
    assert main(["export", "--fork", str(fork)]) == 0
    return sorted((asgiref_project / "patches" / "asgiref").glob("*.patch"))


def test_manifest_pins_asgiref_beside_the_django_series(asgiref_project):
    from patchkit.core.manifest import load_manifest

    manifest = load_manifest()
    assert manifest.asgiref.package == "asgiref"
    assert manifest.asgiref.base_name == "asgiref 3.13.0"
    assert manifest.package_release("asgiref") is manifest.asgiref
    assert "asgiref" not in manifest.releases
    assert manifest.asgiref_dependent_tests == ("basic.tests.BasicTests.test_pinned",)
    assert manifest.asgiref_removes_limitations == ("partial-object-wsgi-warning",)


def test_the_real_manifest_pins_asgiref_by_sha256():
    from patchkit.core.manifest import SCRIPTS_DIR, load_manifest

    asgiref = load_manifest(SCRIPTS_DIR / "releases.json").asgiref
    assert asgiref.version == "3.13.0"
    assert asgiref.sha256 == "034cc8cbf72d00553b4be256703ac545120b4e50af13b49dec99da899aeeecb4"


def test_fetch_verifies_the_asgiref_sdist(asgiref_project, capsys):
    from patchkit.cli import main

    assert main(["fetch", "--series", "asgiref"]) == 0
    assert "asgiref-3.13.0.tar.gz (sha256 verified)" in capsys.readouterr().out


def test_asgiref_series_is_exported_and_applied_like_djangos(asgiref_patch, tmp_path):
    from patchkit.cli import main

    assert [p.name for p in asgiref_patch] == ["0001-Made-is_async-look-at-the-type.patch"]
    fork = tmp_path / "rebuilt"
    assert main(["materialize", "--series", "asgiref", "--dest", str(fork)]) == 0
    assert git(["log", "--format=%s", "upstream/3.13.0..patched/asgiref"], fork) == (
        "Made is_async() look at the type.\n"
    )
    assert git(["log", "-1", "--format=%s", "upstream/3.13.0"], fork) == (
        "Imported asgiref 3.13.0 from its PyPI sdist.\n"
    )
    # No regression app is linked into asgiref's tests.
    assert not (fork / "tests" / "async_callable_regression").exists()
    # Exporting the rebuilt fork reproduces the patch file byte for byte.
    before = asgiref_patch[0].read_bytes()
    assert main(["export", "--fork", str(fork)]) == 0
    assert asgiref_patch[0].read_bytes() == before


def test_asgiref_reverted_tree_has_the_released_package_and_the_new_tests(asgiref_patch, tmp_path):
    from patchkit.core.fork import build_reverted_tree, materialize_fork
    from patchkit.core.manifest import load_manifest

    release = load_manifest().asgiref
    fork = materialize_fork(tmp_path / "fork", release)
    reverted = build_reverted_tree(fork, release)
    assert (reverted / "asgiref" / "sync.py").read_text() == ASGIREF_FILES["asgiref/sync.py"]
    assert (reverted / "tests" / "test_callables.py").exists()


def test_new_test_functions_are_found_with_ast(asgiref_patch, tmp_path):
    from patchkit.checks.asgiref_suite import new_test_functions
    from patchkit.core.fork import materialize_fork
    from patchkit.core.manifest import load_manifest

    release = load_manifest().asgiref
    fork = materialize_fork(tmp_path / "fork", release)
    assert new_test_functions(fork, release) == {
        "tests/test_callables.py::test_new",
        "tests/test_callables.py::TestShapes::test_shape",
    }


def test_junit_outcomes_name_items_as_pytest_does(tmp_path):
    from patchkit.checks.asgiref_suite import junit_outcomes

    report = tmp_path / "report.xml"
    report.write_text(
        "<testsuites><testsuite>"
        '<testcase classname="tests.test_sync" name="test_a[x y]"/>'
        '<testcase classname="tests.test_sync" name="test_b"><failure/></testcase>'
        '<testcase classname="tests.test_sync.TestThings" name="test_c"><error/></testcase>'
        '<testcase classname="tests.test_x" name="test_d"><skipped type="pytest.skip"/>'
        "</testcase>"
        '<testcase classname="tests.test_x" name="test_e"><skipped type="pytest.xfail"/>'
        "</testcase>"
        "</testsuite></testsuites>"
    )
    assert junit_outcomes(report) == {
        "tests/test_sync.py::test_a[x y]": "pass",
        "tests/test_sync.py::test_b": "fail",
        "tests/test_sync.py::TestThings::test_c": "error",
        "tests/test_x.py::test_d": "skip",
        "tests/test_x.py::test_e": "xfail",
    }


def judged(patched, pristine, new):
    from patchkit.checks.asgiref_suite import SuiteCell, judge

    return judge(SuiteCell("3.12", patched, pristine, set(new)))


def test_judge_accepts_red_then_green_with_a_parametrized_function():
    cell = judged(
        {"t.py::test_old": "pass", "t.py::test_new[a]": "pass", "t.py::test_new[b]": "pass"},
        {"t.py::test_old": "pass", "t.py::test_new[a]": "pass", "t.py::test_new[b]": "fail"},
        ["t.py::test_new"],
    )
    assert cell.problems == []
    assert cell.ok is True


@pytest.mark.parametrize(
    "patched, pristine, problem",
    [
        (
            {"t.py::test_new[a]": "pass"},
            {"t.py::test_new[a]": "pass"},
            "t.py::test_new: passes on the release (red expected)",
        ),
        (
            {"t.py::test_new[a]": "fail"},
            {"t.py::test_new[a]": "fail"},
            "t.py::test_new[a]: fail on the patched tree",
        ),
        (
            {"t.py::test_new[a]": "pass", "t.py::test_old": "skip"},
            {"t.py::test_new[a]": "fail", "t.py::test_old": "pass"},
            "t.py::test_old: released pass, patched skip",
        ),
        (
            {"t.py::test_new[a]": "pass"},
            {},
            "t.py::test_new: not run on the release",
        ),
    ],
)
def test_judge_reports_each_broken_rule(patched, pristine, problem):
    cell = judged(patched, pristine, ["t.py::test_new"])
    assert problem in cell.problems
    assert cell.ok is False


def test_asgiref_changed_tests_must_fail_on_both_trees():
    from patchkit.core.runtests import compare_outcomes

    pinned = "a.B.test_pinned"
    changed = compare_outcomes(
        {pinned}, {pinned: "fail"}, {pinned: "fail"}, None, (pinned,), {pinned}
    )
    assert changed.ok is True
    assert changed.asgiref_changed == [pinned]
    kept = compare_outcomes(
        {pinned}, {pinned: "pass"}, {pinned: "pass"}, None, (pinned,), {pinned}
    )
    assert kept.ok is False
    assert kept.violations == [
        (pinned, "pass", "pass", "the asgiref series must change what it pins")
    ]
    # Without the asgiref series the same test is an ordinary pinned test.
    released = compare_outcomes({pinned}, {pinned: "pass"}, {pinned: "pass"}, None, (pinned,))
    assert released.ok is True
    assert released.pinned == [pinned]


def test_asgiref_series_gets_virtualenvs_of_its_own(asgiref_project, tmp_path):
    from patchkit.core.manifest import load_manifest
    from patchkit.core.workspace import Workspace

    manifest = load_manifest()
    released = Workspace(tmp_path / "w", "6.1")
    patched = Workspace(tmp_path / "w", "6.1", manifest.asgiref)
    assert released.venv("6.1", "3.12").name == "venv-6.1-py3.12"
    assert patched.venv("6.1", "3.12").name == "venv-6.1-asgiref-series-py3.12"
    assert patched.fork(manifest.asgiref).name == "fork-asgiref"


def test_asgiref_series_refuses_a_python_asgiref_does_not_support(asgiref_project, tmp_path):
    from patchkit.core.errors import CommandError
    from patchkit.core.manifest import load_manifest
    from patchkit.core.workspace import Workspace, install_asgiref_series

    workspace = Workspace(tmp_path / "w", "6.1", load_manifest().asgiref)
    python310 = tmp_path / "python3.10"
    python310.write_text("#!/bin/sh\necho 3.10\n")
    python310.chmod(0o755)
    with pytest.raises(CommandError) as raised:
        install_asgiref_series(str(python310), workspace)
    assert "asgiref 3.13.0 does not run on Python 3.10 (it supports 3.12)" in str(raised.value)


def test_asgiref_series_without_a_pinned_asgiref_is_a_usage_error(project, capsys):
    from patchkit.cli import main

    assert main(["asgiref"]) == 2
    assert "error: scripts/releases.json pins no asgiref release" in capsys.readouterr().err
