import subprocess

import pytest

from conftest import FAKE_FILES, git, repo_state
from patchkit.cli import main


def test_apply_uses_the_users_identity_and_keeps_the_prefix(
    project, series_patch, user_fork, capsys
):
    assert main(["apply", str(user_fork)]) == 0

    assert git(["log", "-1", "--format=%s|%an|%cn"], user_fork) == (
        "[6.1.x] Fixed #1 -- Made is_async() look at __call__.|Patch Author|Fork User\n"
    )
    assert git(["log", "--format=%s", "-3"], user_fork).splitlines()[1:] == [
        "Our own commit.",
        "Initial.",
    ]
    out = capsys.readouterr().out
    assert out.endswith(f"Series 6.1 applied in {user_fork}.\n")


def test_reapplying_is_a_no_op_that_says_so(project, series_patch, user_fork, capsys):
    assert main(["apply", str(user_fork)]) == 0
    before = repo_state(user_fork)
    capsys.readouterr()

    assert main(["apply", str(user_fork)]) == 0

    assert (
        capsys.readouterr().out
        == f"Series 6.1 is already applied in {user_fork}: nothing to do.\n"
    )
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


def test_conflict_stops_in_am_and_abort_restores_the_fork(
    project, series_patch, user_fork, capsys
):
    make_conflict(user_fork)
    before = repo_state(user_fork)
    files_before = {
        p: p.read_bytes() for p in user_fork.rglob("*") if p.is_file() and ".git" not in p.parts
    }

    assert main(["apply", str(user_fork)]) == 1

    err = capsys.readouterr().err
    assert err.endswith(
        "error: a patch of series 6.1 did not apply: the patch conflicts with your branch "
        f"in django/core.py; {user_fork} is stopped in git am\n"
        "next step: resolve the conflict markers in those files, "
        f"`git -C {user_fork} add` the files, then `git -C {user_fork} am --continue`; "
        f"or undo everything with `git -C {user_fork} am --abort`\n"
    )
    assert "<<<<<<<" in (user_fork / "django" / "core.py").read_text()
    assert (user_fork / ".git" / "rebase-apply" / "applying").exists()

    git(["am", "--abort"], user_fork)

    assert repo_state(user_fork) == before
    files_after = {
        p: p.read_bytes() for p in user_fork.rglob("*") if p.is_file() and ".git" not in p.parts
    }
    assert files_after == files_before


def test_explicit_series_overrides_the_detected_version(project, series_patch, user_fork, capsys):
    (user_fork / "django" / "__init__.py").write_text('VERSION = (6, 2, 0, "alpha", 0)\n')
    git(["commit", "-q", "-am", "Development version."], user_fork)

    assert main(["apply", str(user_fork), "--series", "6.1"]) == 0


def test_applies_to_another_point_release_with_a_3_way_merge(
    project, series_patch, tmp_path, capsys
):
    """The fork's files are not the blobs the patch names (another point release):
    the blobs are fetched for `am -3`, and the private ref is gone afterwards."""
    repo = tmp_path / "older_fork"
    for name, text in FAKE_FILES.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    tests = repo / "tests" / "basic" / "tests.py"
    tests.write_text(
        tests.read_text().replace("unittest.TestCase):", "unittest.TestCase):  # 6.1.0")
    )
    (repo / "django" / "__init__.py").write_text('VERSION = (6, 1, 0, "final", 0)\n')
    git(["init", "-q", "-b", "main"], repo)
    git(["config", "user.name", "Fork User"], repo)
    git(["config", "user.email", "user@example.com"], repo)
    git(["add", "-A"], repo)
    git(["commit", "-q", "-m", "Django 6.1.0."], repo)

    assert main(["apply", str(repo)]) == 0

    out = capsys.readouterr().out
    assert "The series was made on Django 6.1.3; your checkout is 6.1.0" in out
    assert "def test_new" in tests.read_text()
    assert "# 6.1.0" in tests.read_text()
    assert git(["for-each-ref", "refs/patchset"], repo) == ""


def test_a_reverted_series_is_applied_again(project, series_patch, user_fork, capsys):
    assert main(["apply", str(user_fork)]) == 0
    git(["revert", "--no-edit", "HEAD"], user_fork)
    capsys.readouterr()

    assert main(["apply", str(user_fork)]) == 0

    assert capsys.readouterr().out.endswith(f"Series 6.1 applied in {user_fork}.\n")
    assert "__call__" in (user_fork / "django" / "core.py").read_text()


def test_a_broken_version_file_is_an_error_not_a_traceback(
    project, series_patch, user_fork, capsys
):
    (user_fork / "django" / "__init__.py").write_text("VERSION = (6, 1\n")
    git(["commit", "-q", "-am", "Broken."], user_fork)

    status, err = refused(["apply", str(user_fork)], user_fork, capsys)

    assert status == 1
    assert err == (
        f"error: {user_fork}/django/__init__.py is not valid Python (line 1): its VERSION "
        "cannot be read\nnext step: fix the file, or pass --series explicitly\n"
    )
