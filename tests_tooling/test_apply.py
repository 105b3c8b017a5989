import subprocess

import pytest

from conftest import git, repo_state
from patchset import main


def test_apply_uses_the_users_identity_and_keeps_the_prefix(project, series_patch, user_fork, capsys):
    assert main(["apply", str(user_fork)]) == 0

    assert git(["log", "-1", "--format=%s|%an|%cn"], user_fork) == (
        "[6.1.x] Fixed #1 -- Made is_async() look at __call__.|Patch Author|Fork User\n"
    )
    assert git(["log", "--format=%s", "-3"], user_fork).splitlines()[1:] == [
        "Our own commit.", "Initial."
    ]
    out = capsys.readouterr().out
    assert out.endswith(f"Series 6.1 applied in {user_fork}.\n")


def test_reapplying_is_a_no_op_that_says_so(project, series_patch, user_fork, capsys):
    assert main(["apply", str(user_fork)]) == 0
    before = repo_state(user_fork)
    capsys.readouterr()

    assert main(["apply", str(user_fork)]) == 0

    assert capsys.readouterr().out == f"Series 6.1 is already applied in {user_fork}: nothing to do.\n"
    assert repo_state(user_fork) == before


def refused(argv, repo, capsys):
    """Run apply, return (status, stderr) and check that it changed nothing."""
    before = repo_state(repo)
    capsys.readouterr()
    status = main(argv)
    assert repo_state(repo) == before
    return status, capsys.readouterr().err


def test_refuses_a_dirty_working_tree(project, series_patch, user_fork, capsys):
    (user_fork / "README.rst").write_text("edited\n")

    status, err = refused(["apply", str(user_fork)], user_fork, capsys)

    assert status == 1
    assert err == (
        f"error: {user_fork} has uncommitted changes\n"
        f"next step: commit or stash them (`git -C {user_fork} stash`), then run apply again\n"
    )


def test_refuses_a_folder_that_is_not_a_django_checkout(project, series_patch, tmp_path, capsys):
    repo = tmp_path / "not_django"
    repo.mkdir()
    (repo / "setup.py").write_text("")
    git(["init", "-q"], repo)
    git(["add", "-A"], repo)
    git(["-c", "user.name=U", "-c", "user.email=u@x", "commit", "-q", "-m", "x"], repo)

    status, err = refused(["apply", str(repo)], repo, capsys)

    assert status == 2
    assert err == (
        f"error: {repo} is not a Django checkout (no django/__init__.py)\n"
        "next step: pass the top folder of your Django git clone\n"
    )


def test_refuses_a_version_with_no_series(project, series_patch, user_fork, capsys):
    (user_fork / "django" / "__init__.py").write_text('VERSION = (5, 0, 0, "final", 0)\n')
    git(["commit", "-q", "-am", "Pretend to be 5.0."], user_fork)

    status, err = refused(["apply", str(user_fork)], user_fork, capsys)

    assert status == 1
    assert err == (
        f"error: Django 5.0 (from {user_fork}/django/__init__.py) has no patch series\n"
        "next step: the series are 6.1, 6.0; pass --series to pick one\n"
    )


def make_conflict(repo):
    (repo / "django" / "core.py").write_text("def is_async(obj):\n    return None  # ours\n")
    git(["commit", "-q", "-am", "Our own is_async()."], repo)


def test_refuses_while_an_am_is_in_progress(project, series_patch, user_fork, capsys):
    make_conflict(user_fork)
    assert main(["apply", str(user_fork)]) == 1

    status, err = refused(["apply", str(user_fork)], user_fork, capsys)

    assert status == 1
    assert err == (
        f"error: a `git am` is already in progress in {user_fork}\n"
        f"next step: finish it with `git -C {user_fork} am --continue` or drop it with "
        f"`git -C {user_fork} am --abort`, then run apply again\n"
    )


def test_refuses_while_a_rebase_is_in_progress(project, series_patch, user_fork, capsys):
    git(["checkout", "-q", "-b", "other", "HEAD~1"], user_fork)
    (user_fork / "LOCAL.txt").write_text("a different change\n")
    git(["add", "-A"], user_fork)
    git(["commit", "-q", "-m", "Conflicting change."], user_fork)
    with pytest.raises(subprocess.CalledProcessError):
        git(["rebase", "main"], user_fork)

    status, err = refused(["apply", str(user_fork)], user_fork, capsys)

    assert status == 1
    assert err == (
        f"error: a rebase is in progress in {user_fork}\n"
        f"next step: finish it with `git -C {user_fork} rebase --continue` or drop it with "
        f"`git -C {user_fork} rebase --abort`, then run apply again\n"
    )


def test_conflict_stops_in_am_and_abort_restores_the_fork(project, series_patch, user_fork, capsys):
    make_conflict(user_fork)
    before = repo_state(user_fork)
    files_before = {p: p.read_bytes() for p in user_fork.rglob("*") if p.is_file() and ".git" not in p.parts}

    assert main(["apply", str(user_fork)]) == 1

    err = capsys.readouterr().err
    assert err.endswith(
        f"error: a patch of series 6.1 did not apply cleanly; {user_fork} is stopped in git am\n"
        f"next step: resolve the conflicts, `git -C {user_fork} add` the files, then "
        f"`git -C {user_fork} am --continue`; or undo everything with "
        f"`git -C {user_fork} am --abort`\n"
    )
    assert (user_fork / ".git" / "rebase-apply" / "applying").exists()

    git(["am", "--abort"], user_fork)

    assert repo_state(user_fork) == before
    files_after = {p: p.read_bytes() for p in user_fork.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert files_after == files_before


def test_explicit_series_overrides_the_detected_version(project, series_patch, user_fork, capsys):
    (user_fork / "django" / "__init__.py").write_text('VERSION = (6, 2, 0, "alpha", 0)\n')
    git(["commit", "-q", "-am", "Development version."], user_fork)

    assert main(["apply", str(user_fork), "--series", "6.1"]) == 0
