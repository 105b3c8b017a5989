import subprocess

import pytest

from conftest import FAKE_FILES, commit_all, git, repo_state
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
        f"error: a `git am` is in progress in {user_fork}\n"
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
        f"`git -C {user_fork} add -- django/core.py`, then `git -C {user_fork} am --continue`; "
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


def older_point_release_fork(repo):
    """A maintainer's fork of Django 6.1.0: one commit, whose tests/basic/tests.py is
    not the blob the series' patch was made against."""
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
    return repo


def test_applies_to_another_point_release_with_a_3_way_merge(
    project, series_patch, tmp_path, capsys
):
    """The fork's files are not the blobs the patch names (another point release):
    the blobs are fetched for `am -3`, and the private ref is gone afterwards."""
    repo = older_point_release_fork(tmp_path / "older_fork")
    tests = repo / "tests" / "basic" / "tests.py"

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


def test_applies_to_a_shallow_clone_of_another_point_release(
    project, series_patch, tmp_path, capsys
):
    """`git clone --depth 1` of a fork of 6.1.0: the blobs come from the series
    bundle, the 3-way merge works, and the private ref is gone afterwards."""
    origin = older_point_release_fork(tmp_path / "origin")
    (origin / "README.rst").write_text("Fake Django, maintained.\n")
    git(["commit", "-q", "-am", "Maintained."], origin)
    repo = tmp_path / "shallow"
    git(["clone", "-q", "--depth", "1", f"file://{origin}", str(repo)], tmp_path)
    git(["config", "user.name", "Fork User"], repo)
    git(["config", "user.email", "user@example.com"], repo)
    assert git(["rev-parse", "--is-shallow-repository"], repo) == "true\n"
    capsys.readouterr()

    assert main(["apply", str(repo)]) == 0

    out = capsys.readouterr().out
    assert "The series was made on Django 6.1.3; your checkout is 6.1.0" in out
    assert out.endswith(f"Series 6.1 applied in {repo}.\n")
    tests = (repo / "tests" / "basic" / "tests.py").read_text()
    assert "def test_new" in tests and "# 6.1.0" in tests
    assert git(["log", "--format=%s"], repo) == (
        "[6.1.x] Fixed #1 -- Made is_async() look at __call__.\nMaintained.\n"
    )
    assert git(["for-each-ref", "refs/patchset"], repo) == ""
    assert git(["rev-parse", "--is-shallow-repository"], repo) == "true\n"
    assert git(["status", "--porcelain"], repo) == ""


PATCHED_CORE = "def is_async(obj):\n    return callable(getattr(type(obj), '__call__', None))\n"
HAND_RESOLVED_CORE = (
    "def is_async(obj):\n    # ours, merged by hand\n"
    "    return callable(getattr(type(obj), '__call__', None))\n"
)


def resolve_conflict(repo, core_text):
    (repo / "django" / "core.py").write_text(core_text)
    git(["add", "django/core.py"], repo)
    git(["-c", "core.editor=true", "am", "--continue"], repo)


@pytest.mark.parametrize("resolution", [PATCHED_CORE, HAND_RESOLVED_CORE], ids=["patch", "hand"])
def test_after_a_resolved_conflict_apply_again_is_a_no_op(
    project, series_patch, user_fork, capsys, resolution
):
    """Resolved with the patch's lines, or by hand with other lines (so the patch
    no longer reverse-applies): the commit `am --continue` made is the patch."""
    make_conflict(user_fork)
    assert main(["apply", str(user_fork)]) == 1
    resolve_conflict(user_fork, resolution)
    assert git(["log", "-1", "--format=%s|%an"], user_fork) == (
        "[6.1.x] Fixed #1 -- Made is_async() look at __call__.|Patch Author\n"
    )
    before = repo_state(user_fork)
    capsys.readouterr()

    assert main(["apply", str(user_fork)]) == 0

    assert capsys.readouterr() == (
        f"Series 6.1 is already applied in {user_fork}: nothing to do.\n",
        "",
    )
    assert repo_state(user_fork) == before


def test_a_hand_resolved_patch_that_was_reverted_is_applied_again(
    project, series_patch, user_fork, capsys
):
    """The rule for a hand-resolved patch is judged by the result too: once the
    commit is reverted, apply does not skip the patch (here it conflicts again)."""
    make_conflict(user_fork)
    assert main(["apply", str(user_fork)]) == 1
    resolve_conflict(user_fork, HAND_RESOLVED_CORE)
    git(["revert", "--no-edit", "HEAD"], user_fork)
    capsys.readouterr()

    assert main(["apply", str(user_fork)]) == 1

    out, err = capsys.readouterr()
    assert "already applied" not in out
    assert "the patch conflicts with your branch in django/core.py" in err
    git(["am", "--abort"], user_fork)


def add_patch_creating(tmp_path, path):
    """A second patch in series 6.1 that creates path (in the series_patch fork)."""
    fork = tmp_path / "author_fork"
    (fork / path).parent.mkdir(parents=True, exist_ok=True)
    (fork / path).write_text("NEW = True\n")
    commit_all(fork, "[6.1.x] Refs #1 -- Added a module.")
    assert main(["export", "--fork", str(fork)]) == 0


@pytest.mark.parametrize(
    "obstacle, named",
    [
        ("tests/more/tests.py", "tests/more/tests.py, which already exists"),
        ("tests/more", "tests/more/tests.py, but the file tests/more is there"),
    ],
)
def test_refuses_an_untracked_file_in_the_way_of_a_created_one(
    project, series_patch, user_fork, tmp_path, capsys, obstacle, named
):
    add_patch_creating(tmp_path, "tests/more/tests.py")
    (user_fork / obstacle).parent.mkdir(parents=True, exist_ok=True)
    (user_fork / obstacle).write_text("mine\n")

    status, err = refused(["apply", str(user_fork)], user_fork, capsys)

    assert status == 1
    assert err == (
        f"error: the series creates {named} in {user_fork}\n"
        "next step: move it away, then run apply again\n"
    )
    assert (user_fork / obstacle).read_text() == "mine\n"
    assert git(["for-each-ref", "refs/patchset"], user_fork) == ""
    assert not (tmp_path / "cache" / "series").exists()  # refused before any work


def test_a_series_forced_on_another_version_warns_and_applies(
    project, series_patch, user_fork, capsys
):
    backport = project / "patches" / "6.0" / series_patch[0].name
    backport.write_bytes(series_patch[0].read_bytes().replace(b"[6.1.x]", b"[6.0.x]"))
    capsys.readouterr()

    assert main(["apply", str(user_fork), "--series", "6.0"]) == 0

    out = capsys.readouterr().out
    assert out.startswith("Warning: your checkout is Django 6.1; applying series 6.0 as asked.\n")
    assert (
        "The series was made on Django 6.0.10; your checkout is 6.1.3: "
        "git am -3 merges the differences.\n"
    ) in out
    assert out.endswith(f"Series 6.0 applied in {user_fork}.\n")
    assert git(["log", "-1", "--format=%s"], user_fork) == (
        "[6.0.x] Fixed #1 -- Made is_async() look at __call__.\n"
    )


def test_a_detached_head_warns_and_applies(project, series_patch, user_fork, capsys):
    main_branch = git(["rev-parse", "main"], user_fork)
    git(["checkout", "-q", "--detach"], user_fork)
    capsys.readouterr()

    assert main(["apply", str(user_fork)]) == 0

    out = capsys.readouterr().out
    assert out.startswith("Warning: HEAD is detached; the commits will not be on a branch.\n")
    assert out.endswith(f"Series 6.1 applied in {user_fork}.\n")
    assert git(["log", "-1", "--format=%s"], user_fork) == (
        "[6.1.x] Fixed #1 -- Made is_async() look at __call__.\n"
    )
    assert git(["branch", "--show-current"], user_fork) == ""
    assert git(["rev-parse", "main"], user_fork) == main_branch


def test_a_signing_failure_is_not_a_conflict_and_abort_restores(
    project, series_patch, user_fork, capsys
):
    git(["config", "commit.gpgsign", "true"], user_fork)
    git(["config", "gpg.program", "false"], user_fork)
    before = repo_state(user_fork)
    capsys.readouterr()

    assert main(["apply", str(user_fork)]) == 1

    err = capsys.readouterr().err
    assert err.endswith(
        "error: a patch of series 6.1 did not apply: git could not sign the commit "
        f"(commit.gpgsign is set); {user_fork} is stopped in git am\n"
        f"next step: undo with `git -C {user_fork} am --abort`, then fix signing (see "
        f"`git -C {user_fork} config gpg.program`) or turn it off in this repository "
        f"(`git -C {user_fork} config commit.gpgsign false`), and run apply again\n"
    )
    assert "conflict" not in err

    git(["am", "--abort"], user_fork)

    assert repo_state(user_fork) == before
    assert git(["for-each-ref", "refs/patchset"], user_fork) == ""


def test_the_series_bundle_is_built_once_per_version_of_the_series(
    project, series_patch, user_fork, tmp_path, monkeypatch, capsys
):
    from patchkit.forkops import apply

    built = []
    materialize = apply.materialize_fork

    def counting_materialize(dest, release):
        built.append(release.series)
        return materialize(dest, release)

    monkeypatch.setattr(apply, "materialize_fork", counting_materialize)
    bundles = tmp_path / "cache" / "series"

    assert main(["apply", str(user_fork)]) == 0
    assert main(["apply", str(older_point_release_fork(tmp_path / "second"))]) == 0

    assert built == ["6.1"]
    first = sorted(bundles.glob("*.bundle"))
    assert [path.suffix for path in first] == [".bundle"]

    patch = series_patch[0]
    patch.write_text(patch.read_text().replace("\nBecause.\n", "\nBecause it must.\n"))
    third = older_point_release_fork(tmp_path / "third")

    assert main(["apply", str(third)]) == 0

    assert built == ["6.1", "6.1"]
    assert len(sorted(bundles.glob("*.bundle"))) == 2 and first[0].exists()
    assert git(["log", "-1", "--format=%b"], third) == "Because it must.\n\n"


def test_a_cache_that_is_a_file_is_an_error_and_changes_nothing(
    project, series_patch, user_fork, tmp_path, monkeypatch, capsys
):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder\n")
    monkeypatch.setenv("PATCHSET_CACHE", str(blocker))

    status, err = refused(["apply", str(user_fork)], user_fork, capsys)

    assert status == 1
    assert err == (
        f"error: the series cache {blocker}/series cannot be written (Not a directory)\n"
        "next step: point PATCHSET_CACHE at a writable folder, or unset it\n"
    )
    assert git(["for-each-ref", "refs/patchset"], user_fork) == ""


def test_a_hand_resolution_is_recognised_without_the_blobs_at_hand(
    project, series_patch, tmp_path, capsys
):
    """On a fork of another point release, once gc has dropped the fetched blobs,
    recognising the resolution fetches them again (and removes the ref after)."""
    repo = older_point_release_fork(tmp_path / "older_fork")
    tests = repo / "tests" / "basic" / "tests.py"
    tests.write_text(tests.read_text() + "\n    def test_ours(self):\n        pass\n")
    git(["commit", "-q", "-am", "Our own test."], repo)
    assert main(["apply", str(repo)]) == 1
    assert "<<<<<<< HEAD\n    def test_ours(self):\n=======\n" in tests.read_text()
    ours = tests.read_text().split("<<<<<<<")[0] + "    def test_ours(self):\n        pass\n"
    tests.write_text(ours + "\n    def test_new(self):\n        pass\n")
    git(["add", "-A"], repo)
    git(["-c", "core.editor=true", "am", "--continue"], repo)
    # Only the index's record of the conflict and the reflogs keep the fetched
    # blobs; with them gone, gc drops the blobs.
    git(["update-index", "--clear-resolve-undo"], repo)
    git(["reflog", "expire", "--expire=now", "--all"], repo)
    git(["gc", "-q", "--prune=now"], repo)
    released_tests = git(
        ["hash-object", "--stdin"], repo, input=FAKE_FILES["tests/basic/tests.py"]
    )
    with pytest.raises(subprocess.CalledProcessError):
        git(["cat-file", "-e", released_tests.strip()], repo)
    before = repo_state(repo)
    capsys.readouterr()

    assert main(["apply", str(repo)]) == 0

    assert capsys.readouterr() == (
        "Fetching the files the series was made against (Django 6.1.3)...\n"
        f"Series 6.1 is already applied in {repo}: nothing to do.\n",
        "",
    )
    assert repo_state(repo) == before
    assert git(["for-each-ref", "refs/patchset"], repo) == ""


def test_refuses_files_with_windows_line_endings_and_its_next_step_works(
    project, series_patch, user_fork, capsys
):
    # Like the yanked 4.2.12 sdist: every line of the files the series changes ends
    # in CRLF, so a 3-way merge would conflict on every line.
    for name in ("django/core.py", "tests/basic/tests.py"):
        path = user_fork / name
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    commit_all(user_fork, "Windows line endings.")

    status, err = refused(["apply", str(user_fork)], user_fork, capsys)

    assert status == 1
    assert err.startswith(
        f"error: 2 file(s) the series changes have Windows line endings (CRLF) in "
        f"{user_fork}, the patches Unix ones: django/core.py, tests/basic/tests.py; "
        "nothing was changed\nnext step: if this is Django 4.2.12, move to 4.2.13"
    )
    step = err.split("otherwise convert them and commit: `")[1].split("`, then run")[0]
    subprocess.run(step, shell=True, check=True)
    assert main(["apply", str(user_fork)]) == 0
    assert "def test_new" in (user_fork / "tests" / "basic" / "tests.py").read_text()
