"""`apply` on a user's repository in every state git can be in, each between two
full snapshots (see conftest.full_snapshot): a refusal changes nothing, its next
step works when pasted into a shell, and every stop is undone exactly by
`git am --abort`. Issue 27 lists the defects; docs/fork-maintainers.md maps each
to its test here."""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import commit_all, full_snapshot, git
from patchkit.cli import main

PATCHSET = Path(__file__).resolve().parent.parent / "scripts" / "patchset.py"


@pytest.fixture
def fork(user_fork, tmp_path):
    """The user's clone in a folder whose name needs quoting in a shell."""
    moved = tmp_path / "my fork's clone"
    user_fork.rename(moved)
    return moved


def refused(argv, repo, capsys):
    """Run apply; check that it changed nothing; return (status, stderr)."""
    before = full_snapshot(repo)
    capsys.readouterr()
    status = main(argv)
    assert full_snapshot(repo) == before
    return status, capsys.readouterr().err


def pasted(step):
    """Run the last command quoted in a next step as a user pasting it would."""
    command = re.findall(r"`([^`]+)`", step)[-1]
    subprocess.run(["sh", "-c", command], check=True, capture_output=True)


def branch_other(repo, text="a different change\n"):
    """A branch `other` off HEAD~1 that changes LOCAL.txt unlike HEAD does."""
    git(["branch", "other", "HEAD~1"], repo)
    git(["checkout", "-q", "other"], repo)
    (repo / "LOCAL.txt").write_text(text)
    git(["add", "-A"], repo)
    git(["commit", "-q", "-m", "Other change."], repo)
    git(["checkout", "-q", "main"], repo)


def conflicted_merge(repo):
    branch_other(repo)
    assert subprocess.run(["git", "merge", "other"], cwd=repo, capture_output=True).returncode


def clean_merge_no_commit(repo):
    git(["checkout", "-q", "-b", "other", "HEAD~1"], repo)
    (repo / "OTHER.txt").write_text("other\n")
    git(["add", "-A"], repo)
    git(["commit", "-q", "-m", "Other file."], repo)
    git(["checkout", "-q", "main"], repo)
    git(["merge", "-q", "--no-commit", "--no-ff", "other"], repo)


def conflicted_cherry_pick(repo):
    branch_other(repo)
    assert subprocess.run(
        ["git", "cherry-pick", "other"], cwd=repo, capture_output=True
    ).returncode


def conflicted_revert(repo):
    (repo / "LOCAL.txt").write_text("changed again\n")
    git(["commit", "-q", "-am", "Changed again."], repo)
    assert subprocess.run(
        ["git", "revert", "--no-edit", "HEAD~1"], cwd=repo, capture_output=True
    ).returncode


def paused_cherry_pick_sequence(repo):
    """`git cherry-pick A B` stopped on A, A resolved and committed: only the
    sequencer says that B is still to come."""
    branch_other(repo)
    git(["checkout", "-q", "-b", "third", "other"], repo)
    (repo / "THIRD.txt").write_text("third\n")
    git(["add", "-A"], repo)
    git(["commit", "-q", "-m", "Third."], repo)
    git(["checkout", "-q", "main"], repo)
    assert subprocess.run(
        ["git", "cherry-pick", "other", "third"], cwd=repo, capture_output=True
    ).returncode
    (repo / "LOCAL.txt").write_text("resolved\n")
    git(["add", "-A"], repo)
    git(["-c", "core.editor=true", "commit", "-q"], repo)
    assert not (repo / ".git" / "CHERRY_PICK_HEAD").exists()


def paused_bisect(repo):
    git(["bisect", "start"], repo)
    git(["bisect", "bad"], repo)
    git(["bisect", "good", "HEAD~1"], repo)


def paused_rebase(repo):
    branch_other(repo)
    git(["checkout", "-q", "other"], repo)
    assert subprocess.run(["git", "rebase", "main"], cwd=repo, capture_output=True).returncode


def killed_am(repo):
    """What a `git am` killed half-way left (issue 27, defect 2): rebase-apply with
    only `keep` and `next`."""
    folder = repo / ".git" / "rebase-apply"
    folder.mkdir()
    (folder / "keep").write_text("f\n")
    (folder / "next").write_text("1\n")


@pytest.mark.parametrize(
    "make_state, what",
    [
        (conflicted_merge, "a merge is in progress"),
        (clean_merge_no_commit, "a merge is in progress"),
        (conflicted_cherry_pick, "a cherry-pick is in progress"),
        (conflicted_revert, "a revert is in progress"),
        (paused_cherry_pick_sequence, "a cherry-pick sequence is in progress"),
        (paused_bisect, "a bisect is in progress"),
        (paused_rebase, "a rebase is in progress"),
        (killed_am, "rebase-apply is left from a `git am` or rebase that was killed"),
    ],
    ids=lambda value: getattr(value, "__name__", None),
)
def test_refuses_every_operation_in_progress_and_its_next_step_works(
    project, series_patch, fork, capsys, make_state, what
):
    make_state(fork)

    status, err = refused(["apply", str(fork)], fork, capsys)

    assert status == 1
    assert what in err.splitlines()[0]
    assert "stash" not in err and "uncommitted" not in err
    pasted(err.split("next step: ", 1)[1])
    git(["checkout", "-q", "main"], fork)  # a dropped rebase or bisect may leave another
    assert main(["apply", str(fork)]) == 0


def test_a_stale_index_lock_is_refused_and_its_next_step_works(
    project, series_patch, fork, capsys
):
    (fork / ".git" / "index.lock").write_text("")

    status, err = refused(["apply", str(fork)], fork, capsys)

    assert status == 1
    assert err.startswith(f"error: {fork}/.git/index.lock exists: another git command")
    pasted(err.split("next step: ", 1)[1])
    assert main(["apply", str(fork)]) == 0


def test_a_repository_with_no_commit_is_a_clear_error(project, series_patch, tmp_path, capsys):
    repo = tmp_path / "new"
    (repo / "django").mkdir(parents=True)
    (repo / "django" / "__init__.py").write_text('VERSION = (6, 1, 3, "final", 0)\n')
    git(["init", "-q", "-b", "main"], repo)
    git(["add", "-A"], repo)

    status, err = refused(["apply", str(repo)], repo, capsys)

    assert status == 1
    assert err == (
        f"error: {repo} has no commit yet\n"
        "next step: commit your Django checkout first, then run apply again\n"
    )


@pytest.mark.parametrize(
    "text", ["VERSION = (MAJOR, 1, 3, 'final', 0)\n", "VERSION = (6,)\n"], ids=["name", "one"]
)
def test_a_version_apply_cannot_read_is_an_error_and_series_still_applies(
    project, series_patch, fork, capsys, text
):
    (fork / "django" / "__init__.py").write_text(text)
    git(["commit", "-q", "-am", "Odd VERSION."], fork)

    status, err = refused(["apply", str(fork)], fork, capsys)

    assert status == 1
    assert err == (
        f"error: VERSION in {fork}/django/__init__.py (line 1) is not a tuple that starts "
        'with two numbers, such as (6, 1, 3, "final", 0)\n'
        "next step: fix it, or pass --series explicitly\n"
    )
    assert main(["apply", str(fork), "--series", "6.1"]) == 0
    assert "__call__" in (fork / "django" / "core.py").read_text()


def test_an_autocrlf_clone_applies_what_plain_git_am_applies(
    project, series_patch, user_fork, tmp_path, capsys
):
    """Git for Windows' default: LF in the repository, CRLF in the working tree."""
    clones = []
    for name in ("ours", "plain"):
        clone = tmp_path / name
        git(["clone", "-q", "-c", "core.autocrlf=true", str(user_fork), str(clone)], tmp_path)
        git(["config", "user.name", "Fork User"], clone)
        git(["config", "user.email", "user@example.com"], clone)
        clones.append(clone)
    ours, plain = clones
    assert b"\r\n" in (ours / "django" / "core.py").read_bytes()
    git(["am", "-3", "--keep-non-patch", str(series_patch[0])], plain)

    assert main(["apply", str(ours)]) == 0

    assert git(["status", "--porcelain"], ours) == ""
    assert git(["rev-parse", "HEAD^{tree}"], ours) == git(["rev-parse", "HEAD^{tree}"], plain)
    assert (ours / "django" / "core.py").read_bytes() == (
        plain / "django" / "core.py"
    ).read_bytes()


def make_unwritable(path, undo):
    """chmod, and for root (whom chmod does not stop) the immutable attribute."""
    mode = path.stat().st_mode
    path.chmod(0o555)
    undo.append(lambda: path.chmod(mode))
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
        undo.append(lambda: subprocess.run(["chattr", "-i", str(path)], check=True))
    assert not os.access(path, os.W_OK)


@pytest.fixture
def undo():
    actions = []
    yield actions
    for action in reversed(actions):
        action()


def test_an_unwritable_folder_is_refused_before_am(project, series_patch, fork, capsys, undo):
    folder = fork / "tests" / "basic"
    make_unwritable(folder, undo)

    status, err = refused(["apply", str(fork)], fork, capsys)

    assert status == 1
    assert err.startswith(
        f"error: you cannot write in {folder}, where the series changes files; "
        "nothing was changed\n"
    )
    undo.pop()()  # what the pasted chmod cannot do for root: drop the attribute
    pasted(err.split("next step: ", 1)[1])
    assert main(["apply", str(fork)]) == 0


def test_a_read_only_git_folder_reports_the_real_error(project, series_patch, fork, capsys, undo):
    make_unwritable(fork / ".git", undo)

    status, err = refused(["apply", str(fork)], fork, capsys)

    assert status == 1
    reason = "Operation not permitted" if os.geteuid() == 0 else "Permission denied"
    assert err == (
        f"error: cannot write in the git folder of {fork} "
        f"({fork}/.git/patchset-apply.lock: {reason})\n"
        "next step: make the repository writable for you, then run apply again\n"
    )


def test_a_second_run_refuses_while_the_first_runs_am(
    project, series_patch, fork, tmp_path, capsys
):
    """A hook of the first run's `git am` starts the second run."""
    second = tmp_path / "second"
    hook = fork / ".git" / "hooks" / "pre-applypatch"
    hook.write_text(
        f"#!/bin/sh\n{shlex.quote(sys.executable)} {shlex.quote(str(PATCHSET))} apply "
        f"{shlex.quote(str(fork))} 2>{shlex.quote(str(second))}.err\n"
        f"echo $? >{shlex.quote(str(second))}.status\n"
    )
    hook.chmod(0o755)

    assert main(["apply", str(fork)]) == 0

    assert (tmp_path / "second.status").read_text() == "1\n"
    assert (tmp_path / "second.err").read_text() == (
        f"error: another `patchset.py apply` is running in {fork}\n"
        "next step: wait for it to end (it says how it ended), then run apply again\n"
    )
    assert not (fork / ".git" / "patchset-apply.lock").exists()


def test_a_truncated_series_bundle_is_named_and_rebuilt(
    project, series_patch, fork, tmp_path, capsys
):
    second = tmp_path / "second clone"
    shutil.copytree(fork, second)  # has none of the objects the first apply fetches
    assert main(["apply", str(fork)]) == 0
    (bundle,) = (tmp_path / "cache" / "series").glob("*.bundle")
    bundle.write_bytes(bundle.read_bytes()[: bundle.stat().st_size // 2])
    capsys.readouterr()

    assert main(["apply", str(second)]) == 0

    out = capsys.readouterr().out
    assert f"The cached series bundle {bundle} is damaged" in out
    assert out.endswith(f"Series 6.1 applied in {second}.\n")
    assert git(["bundle", "verify", "-q", str(bundle)], fork) == ""


def test_an_amended_series_commit_counts_as_applied(project, series_patch, fork, capsys):
    """The user reworded the series' commit and changed one of its lines."""
    assert main(["apply", str(fork)]) == 0
    core = fork / "django" / "core.py"
    core.write_text(core.read_text().replace("None))", "None))  # ours"))
    git(["commit", "-q", "-a", "--amend", "-m", "Our version of the fix."], fork)
    amended = git(["rev-parse", "HEAD"], fork)[:12]
    before = full_snapshot(fork)
    capsys.readouterr()

    assert main(["apply", str(fork)]) == 0

    assert full_snapshot(fork) == before
    out = capsys.readouterr().out
    assert out.endswith(
        f"Already applied: {series_patch[0].name}, as your commit {amended}\n"
        f"Series 6.1 is already applied in {fork}: nothing to do.\n"
    )


def test_a_series_changed_past_recognition_is_never_applied_on_itself(
    project, series_patch, fork, tmp_path, capsys
):
    """The second patch creates a file; the user rewrote that commit entirely. The
    refusal's advice (revert it) leads to a clean apply, never to a second copy."""
    author = tmp_path / "author_fork"
    (author / "tests" / "more").mkdir(parents=True)
    (author / "tests" / "more" / "tests.py").write_text("NEW = True\n")
    commit_all(author, "[6.1.x] Refs #1 -- Added a module.")
    assert main(["export", "--fork", str(author)]) == 0
    assert main(["apply", str(fork)]) == 0
    (fork / "tests" / "more" / "tests.py").write_text("RENAMED = 1\n")
    git(["commit", "-q", "-a", "--amend", "-m", "Our module."], fork)

    status, err = refused(["apply", str(fork)], fork, capsys)

    assert status == 1
    assert err.startswith(
        f"error: the series creates tests/more/tests.py, which HEAD already has in {fork}"
    )
    assert "removal" not in err
    git(["revert", "--no-edit", "HEAD"], fork)
    assert main(["apply", str(fork)]) == 0
    assert (fork / "tests" / "more" / "tests.py").read_text() == "NEW = True\n"
    assert git(["log", "--format=%s", "-1"], fork) == "[6.1.x] Refs #1 -- Added a module.\n"


def make_conflict(repo):
    (repo / "django" / "core.py").write_text("def is_async(obj):\n    return None  # ours\n")
    git(["commit", "-q", "-am", "Our own is_async()."], repo)


def failing_hook(name):
    def install(repo):
        hook = repo / ".git" / "hooks" / name
        hook.write_text("#!/bin/sh\necho 'the hook says no' >&2\nexit 1\n")
        hook.chmod(0o755)

    install.__name__ = name
    return install


def failing_signing(repo):
    git(["config", "commit.gpgsign", "true"], repo)
    git(["config", "gpg.program", "false"], repo)


@pytest.mark.parametrize(
    "make_stop, what",
    [
        (make_conflict, "the patch conflicts with your branch in django/core.py"),
        (failing_hook("pre-applypatch"), "the hook {git}/hooks/pre-applypatch refused"),
        (failing_hook("applypatch-msg"), "the hook {git}/hooks/applypatch-msg refused"),
        (failing_signing, "git could not sign the commit"),
    ],
    ids=lambda value: getattr(value, "__name__", None),
)
@pytest.mark.parametrize("language", ["en", "de"])
def test_every_stop_is_named_in_any_language_and_abort_restores_exactly(
    project, series_patch, fork, capsys, monkeypatch, make_stop, what, language
):
    """git's messages are translated: the cause is read from the state git left."""
    if language != "en":
        monkeypatch.setenv("LANGUAGE", language)
        monkeypatch.setenv("LC_ALL", "C.UTF-8")
    make_stop(fork)
    before = full_snapshot(fork)
    capsys.readouterr()

    assert main(["apply", str(fork)]) == 1

    err = capsys.readouterr().err
    assert what.format(git=fork / ".git") in err
    assert f"{fork} is stopped in git am" in err
    assert f"`{shlex.join(['git', '-C', str(fork), 'am', '--abort'])}`" in err
    subprocess.run(["git", "am", "--abort"], cwd=fork, check=True, capture_output=True)
    assert full_snapshot(fork) == before
    assert git(["for-each-ref", "refs/patchset"], fork) == ""


def test_an_untouched_repository_is_left_exactly_as_it_was_after_a_refusal(
    project, series_patch, fork, capsys
):
    """The snapshot sees what the older check missed: the lock file and the
    fetched ref are gone, ignored and untracked files kept."""
    (fork / ".gitignore").write_text("*.pyc\n")
    commit_all(fork, "Ignore .pyc.")
    (fork / "cache.pyc").write_text("ignored\n")
    (fork / "notes.txt").write_text("untracked\n")
    (fork / "django" / "core.py").write_text("def is_async(obj):\n    return 1\n")

    status, err = refused(["apply", str(fork)], fork, capsys)

    assert status == 1 and "uncommitted changes" in err
    assert not (fork / ".git" / "patchset-apply.lock").exists()
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_the_defect_table_names_tests_that_exist():
    table = (Path(__file__).resolve().parent.parent / "docs" / "fork-maintainers.md").read_text()
    rows = [line for line in table.splitlines() if re.match(r"\| \d+ \|", line)]
    assert [int(row.split("|")[1]) for row in rows] == list(range(1, 16))
    defined = set()
    for path in Path(__file__).parent.glob("test_apply*.py"):
        defined.update(re.findall(r"^def (test_\w+)", path.read_text(), re.M))
    named = {name for row in rows for name in re.findall(r"`(test_\w+)", row)}
    assert named and named <= defined, named - defined
