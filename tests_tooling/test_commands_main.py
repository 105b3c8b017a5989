"""main()-level tests of the review and proof commands: the CLI hands each its
arguments, prints the report it returns, writes its evidence, prints the verdict and
exits with its status; a CommandError becomes `error:` and `next step:` lines. The
heavy work (forks, runtests.py, linters) is replaced by a recording stand-in."""

import json

import pytest

from patchkit.cli import main
from patchkit.core.errors import CommandError
from patchkit.core.report import Outcome

# (argv, module of the run function, its name, what the stand-in must receive)
COMMANDS = [
    (["commits", "--series", "6.1"], "patchkit.checks.commits", "run_commit_check", "6.1"),
    (["mutate", "--series", "6.0"], "patchkit.checks.commits", "run_mutation_check", "6.0"),
    (["lint", "--series", "6.0"], "patchkit.review.lint", "run_lint", ["6.0"]),
    (["coverage", "--series", "6.1"], "patchkit.forkops.coverage", "run_coverage", ["6.1"]),
    (["fullsuite", "--series", "6.0"], "patchkit.review.fullsuite", "run_fullsuite", "6.0"),
    (["case", "--check"], "patchkit.review.case", "write_case", True),
]


def stand_in(monkeypatch, module, name, result):
    """Replace module.name by a function that records its arguments and returns
    (or raises) result."""
    import importlib

    calls = []

    def run(*args):
        calls.append(args)
        if isinstance(result, Exception):
            raise result
        return result

    monkeypatch.setattr(importlib.import_module(module), name, run)
    return calls


def received(args):
    """What the stand-in got: its arguments and their series, if they have one."""
    return [*args, *(getattr(arg, "series", None) for arg in args)]


@pytest.mark.parametrize("argv, module, name, subject", COMMANDS)
def test_the_report_evidence_and_verdict_of_a_failed_check(
    project, tmp_path, monkeypatch, capsys, argv, module, name, subject
):
    outcome = Outcome(
        ok=False,
        lines=["the check's report"],
        evidence={"a-check": {"failures": 2}},
        detail="2 failures",
    )
    calls = stand_in(monkeypatch, module, name, outcome)

    assert main([*argv, "--workdir", str(tmp_path / "work")]) == 1

    assert subject in received(calls[0])
    out = capsys.readouterr().out
    evidence = project / "evidence" / "a-check.json"
    assert out.endswith(
        f"the check's report\nSummary written to {evidence}\nverdict: FAILED (2 failures)\n"
    )
    assert json.loads(evidence.read_text())["failures"] == 2


@pytest.mark.parametrize("argv, module, name, subject", COMMANDS)
def test_a_passing_check_exits_0(
    project, tmp_path, monkeypatch, capsys, argv, module, name, subject
):
    stand_in(monkeypatch, module, name, Outcome(ok=True, detail="all green"))

    assert main([*argv, "--workdir", str(tmp_path / "work")]) == 0

    assert capsys.readouterr().out.endswith("verdict: OK (all green)\n")


@pytest.mark.parametrize("argv, module, name, subject", COMMANDS)
def test_an_error_prints_its_next_step_and_exits_1(
    project, tmp_path, monkeypatch, capsys, argv, module, name, subject
):
    error = CommandError("the fork could not be built", "run it again with -v")
    stand_in(monkeypatch, module, name, error)

    assert main([*argv, "--workdir", str(tmp_path / "work")]) == 1

    assert capsys.readouterr().err == (
        "error: the fork could not be built\nnext step: run it again with -v\n"
    )


@pytest.mark.parametrize("command", ["commits", "mutate"])
def test_an_unknown_series_is_a_usage_error(project, tmp_path, capsys, command):
    assert main([command, "--series", "9.9", "--workdir", str(tmp_path / "work")]) == 2

    err = capsys.readouterr().err
    assert err.startswith("error: ") and "9.9" in err
    assert "\nnext step: " in err
