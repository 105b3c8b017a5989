"""The redgreen command: the matrix table and its verdict (runs are faked)."""

import patchkit.checks.redgreen as redgreen
from patchkit.checks.redgreen import Cell, format_matrix
from patchkit.cli import main

APP = "async_callable_regression.tests.AsyncCallMiddlewareTests"
RED_GREEN = {
    "pristine": {f"{APP}.test_a": "error", f"{APP}.test_b": "fail"},
    "patched": {f"{APP}.test_a": "pass", f"{APP}.test_b": "pass"},
}


def cell(series="6.1", python="3.12", **changes):
    values = dict(series=series, version="6.1.3", python=python, violations=[], **RED_GREEN)
    values.update(changes)
    return Cell(**values)


def fake_series(cells_by_series):
    def run_series(release, pythons, workdir, pinned=()):
        return cells_by_series[release.series]

    return run_series


def test_all_cells_red_then_green_is_ok(project, monkeypatch, capsys):
    (project / "tests_regression").mkdir()
    monkeypatch.setattr(
        redgreen, "run_series", fake_series({"6.1": [cell()], "6.0": [cell(series="6.0")]})
    )
    assert main(["redgreen"]) == 0
    out = capsys.readouterr().out
    assert "6.1     6.1.3   3.12    2/2           0                      2/2" in out
    assert f"  {APP}.test_a: error (all)" in out
    assert out.endswith("verdict: OK (2/2 cells)\n")


def test_a_load_failure_fails_its_cell(project, monkeypatch, capsys):
    (project / "tests_regression").mkdir()
    failed = "unittest.loader._FailedTest.async_callable_regression"
    broken = cell(pristine={failed: "error"}, patched=RED_GREEN["patched"])
    monkeypatch.setattr(redgreen, "run_series", fake_series({"6.1": [broken]}))
    assert main(["redgreen", "--series", "6.1"]) == 1
    out = capsys.readouterr().out
    assert f"  6.1/py3.12: failed on import or setup: {failed}" in out
    assert out.endswith("verdict: FAILED (0/1 cells)\n")


def test_unknown_python_for_the_series_is_a_usage_error(project, capsys):
    (project / "tests_regression").mkdir()
    assert main(["redgreen", "--series", "6.1", "--python", "2.7"]) == 2
    assert capsys.readouterr().err.startswith(
        "error: none of the Pythons 2.7 is tested with the chosen series\n"
    )


def test_without_tests_regression_is_a_usage_error(project, capsys):
    assert main(["redgreen"]) == 2
    assert "tests_regression does not exist" in capsys.readouterr().err


def test_skipped_on_both_is_not_applicable_not_a_failure():
    skipped = cell(not_applicable=[f"{APP}.test_c"])
    assert skipped.ok
    assert format_matrix([skipped]).splitlines()[2].split()[-2:] == ["1", "OK"]


def test_a_cell_that_could_not_run_fails():
    assert not cell(pristine={}, patched={}, error="no Python 3.13 found").ok


def test_run_cell_counts_tests_skipped_on_both_trees_as_not_applicable(monkeypatch):
    skipped = "async_callable_regression.test_signals.AsyncCallReceiverTests.test_send"
    red_green = f"{APP}.test_a"

    def run_runtests(python, tree, labels, parallel=None, import_from_tree=False):
        # The pristine run must not use the parallel runner.
        assert parallel == (1 if import_from_tree else None)
        return 0, {red_green: "error" if import_from_tree else "pass", skipped: "skip"}

    monkeypatch.setattr(redgreen, "run_runtests", run_runtests)
    monkeypatch.setattr(redgreen, "new_test_ids", lambda fork, release: {red_green, skipped})
    monkeypatch.setattr(redgreen, "python_version_of", lambda python: "3.10")
    release = type("Release", (), {"series": "4.2", "version": "4.2.30"})()
    result = redgreen.run_cell(release, "python", "fork", "reverted")
    assert result.ok
    assert result.not_applicable == [skipped]
    row = format_matrix([result]).splitlines()[2].split()
    assert row[3:] == ["1/1", "0", "1/1", "1", "OK"]


def test_run_cell_requires_pinned_tests_to_pass_on_both_trees(monkeypatch):
    pinned = f"{APP}.test_unchanged"
    red_green = f"{APP}.test_a"
    outcomes = {
        "pristine": {red_green: "error", pinned: "pass"},
        "patched": {red_green: "pass", pinned: "pass"},
    }

    def run_runtests(python, tree, labels, parallel=None, import_from_tree=False):
        return 0, dict(outcomes["pristine" if import_from_tree else "patched"])

    monkeypatch.setattr(redgreen, "run_runtests", run_runtests)
    monkeypatch.setattr(redgreen, "new_test_ids", lambda fork, release: {red_green, pinned})
    monkeypatch.setattr(redgreen, "python_version_of", lambda python: "3.12")
    release = type("Release", (), {"series": "6.1", "version": "6.1.3"})()
    assert not redgreen.run_cell(release, "python", "fork", "reverted").ok
    assert redgreen.run_cell(release, "python", "fork", "reverted", [pinned]).ok
    outcomes["patched"][pinned] = "fail"
    result = redgreen.run_cell(release, "python", "fork", "reverted", [pinned])
    assert [violation[0] for violation in result.violations] == [pinned]
