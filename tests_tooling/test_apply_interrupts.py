"""SIGINT and SIGTERM at every moment of `apply`: before, during and after each git
command it runs (a test-only hook in the one git runner sends the signal). After
each, the repository is exactly as before, or fully applied, or stopped in a
`git am` that `git am --abort` undoes exactly and `git am --continue` handles;
and the tool says which, with a next step."""

import os
import shutil
import signal
import subprocess

import pytest

from conftest import full_snapshot, git
from patchkit.cli import main
from patchkit.core import git as git_runner

MOMENTS = ("before", "during", "after")


def run_apply(repo, monkeypatch, point=None, number=signal.SIGINT):
    """main(["apply", repo]) with a signal sent at point ((call, moment)); return
    the git calls it made as (call, moment, command)."""
    calls = []

    def hook(moment, args):
        if moment == "before":
            calls.append(args[0])
        if (len(calls) - 1, moment) == point:
            os.kill(os.getpid(), number)

    monkeypatch.setattr(git_runner, "STEP_HOOK", hook)
    try:
        status = main(["apply", str(repo)])
    finally:
        monkeypatch.setattr(git_runner, "STEP_HOOK", None)
    return status, [
        (index, moment, name) for index, name in enumerate(calls) for moment in MOMENTS
    ]


def git_am_in_progress(repo):
    folder = repo / ".git" / "rebase-apply"
    return (folder / "last").is_file() and (folder / "next").is_file()


def check_am_state_is_handled(repo, tmp_path, before):
    """`git am --abort` restores before exactly; `git am --continue` acts (ends the
    am, or stops again in a state git still knows)."""
    aborted, continued = tmp_path / "aborted", tmp_path / "continued"
    for copy in (aborted, continued):
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(repo, copy)
    subprocess.run(["git", "am", "--abort"], cwd=aborted, check=True, capture_output=True)
    assert full_snapshot(aborted) == before
    subprocess.run(["git", "am", "--continue"], cwd=continued, capture_output=True)
    assert git_am_in_progress(continued) or not (continued / ".git" / "rebase-apply").exists()


def make_conflict(repo):
    (repo / "django" / "core.py").write_text("def is_async(obj):\n    return None  # ours\n")
    git(["commit", "-q", "-am", "Our own is_async()."], repo)


@pytest.mark.parametrize("scenario", ["applies", "conflicts"])
def test_every_interruption_leaves_a_state_git_can_finish_and_says_what_to_run(
    project, series_patch, user_fork, tmp_path, monkeypatch, capsys, scenario
):
    if scenario == "conflicts":
        make_conflict(user_fork)
    template = tmp_path / "template"
    shutil.copytree(user_fork, template)
    # A first run builds the series bundle (and shows the tree the series gives).
    status, _ = run_apply(user_fork, monkeypatch)
    assert status == (0 if scenario == "applies" else 1)
    applied_tree = git(["rev-parse", "HEAD^{tree}"], user_fork)
    shutil.rmtree(user_fork)
    shutil.copytree(template, user_fork)
    before = full_snapshot(user_fork)
    status, points = run_apply(user_fork, monkeypatch)
    outcomes = {"as before": 0, "applied": 0, "in git am": 0}

    for index, (call, moment, command) in enumerate(points):
        repo = tmp_path / "interrupted"
        shutil.rmtree(repo, ignore_errors=True)
        shutil.copytree(template, repo)
        number = (signal.SIGINT, signal.SIGTERM)[index % 2]
        capsys.readouterr()

        status, _ = run_apply(repo, monkeypatch, (call, moment), number)

        err = capsys.readouterr().err
        where = f"{number.name} {moment} git call {call} ({command}):\n{err}"
        assert status == 1, where
        assert "\nnext step: " in err, where
        assert not (repo / ".git" / "patchset-apply.lock").exists(), where
        assert git(["for-each-ref", "refs/patchset"], repo) == "", where
        after = full_snapshot(repo)
        if after == before:
            outcomes["as before"] += 1
        elif git_am_in_progress(repo):
            assert f"{repo} is stopped in git am" in err, where
            check_am_state_is_handled(repo, tmp_path, before)
            outcomes["in git am"] += 1
        else:
            assert not (repo / ".git" / "rebase-apply").exists(), where
            assert git(["rev-parse", "HEAD~1"], repo) == before["HEAD"][1].decode(), where
            assert git(["rev-parse", "HEAD^{tree}"], repo) == applied_tree, where
            assert git(["status", "--porcelain"], repo) == "", where
            assert "interrupted after `git am` had applied the series" in err, where
            outcomes["applied"] += 1

    assert len(points) >= 50
    assert outcomes["as before"] > 0
    if scenario == "applies":
        assert outcomes["applied"] > 0 and outcomes["in git am"] == 0
    else:
        assert outcomes["applied"] == 0
