import shutil

import pytest

from conftest import FAKE_FILES, commit_all, git
from patchkit.cli import main
from patchkit.core import fork


def test_checksum_mismatch_fails_and_unpacks_nothing(project, tmp_path, capsys):
    cached = tmp_path / "cache" / "sdists" / "django-6.1.3.tar.gz"
    cached.write_bytes(cached.read_bytes() + b"tampered")
    dest = tmp_path / "fork"

    assert main(["materialize", "--dest", str(dest)]) == 1

    err = capsys.readouterr().err
    assert err.startswith("error: checksum mismatch for django-6.1.3.tar.gz: expected sha256 ")
    assert "the file was removed from the cache" in err
    assert "next step: run `python3 scripts/patchset.py fetch --series 6.1`" in err
    assert not dest.exists()
    assert not cached.exists()


def test_fetch_verifies_the_cached_sdist(project, capsys):
    assert main(["fetch", "--all"]) == 0
    out = capsys.readouterr().out
    assert "6.1: " in out and "6.0: " in out and "(sha256 verified)" in out


def test_materialize_builds_tagged_import_and_branch(project, tmp_path):
    dest = tmp_path / "fork"

    assert main(["materialize", "--dest", str(dest)]) == 0

    assert git(["branch", "--show-current"], dest) == "patched/6.1\n"
    assert git(
        ["log", "--format=%an <%ae> %ad %cn %cd", "--date=iso-strict", "upstream/6.1.3"], dest
    ) == (
        "Django sdist import <sdist-import@localhost> 2000-01-01T00:00:00+00:00 "
        "Django sdist import 2000-01-01T00:00:00+00:00\n"
    )
    assert git(["log", "-1", "--format=%B", "upstream/6.1.3"], dest).startswith(
        "Imported Django 6.1.3 from its PyPI sdist.\n\nsha256: "
    )
    assert not (dest / "Django.egg-info").exists()
    assert (dest / "django" / "core.py").read_text() == FAKE_FILES["django/core.py"]
    assert git(["config", "--local", "patchset.series"], dest) == "6.1\n"
    assert git(["status", "--porcelain"], dest) == ""


def test_import_is_reproducible(project, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"

    assert main(["materialize", "--dest", str(first)]) == 0
    shutil.rmtree(tmp_path / "cache" / "imports")  # as on another machine
    assert main(["materialize", "--dest", str(second)]) == 0

    commit_ids = [git(["rev-parse", "upstream/6.1.3"], repo) for repo in (first, second)]
    assert commit_ids[0] == commit_ids[1]


def test_a_release_is_imported_once_and_its_forks_outlive_the_cache(project, tmp_path, capsys):
    first, second = tmp_path / "first", tmp_path / "second"

    assert main(["materialize", "--dest", str(first)]) == 0
    assert "Importing Django 6.1.3 as a commit..." in capsys.readouterr().out
    assert main(["materialize", "--dest", str(second)]) == 0
    assert "Importing" not in capsys.readouterr().out
    packs = list((second / ".git" / "objects" / "pack").glob("pack-*.pack"))
    assert packs and all(pack.stat().st_nlink == 3 for pack in packs)  # cache, first, second

    shutil.rmtree(tmp_path / "cache" / "imports")
    for repo in (first, second):
        git(["fsck", "--no-progress"], repo)
        git(["checkout", "-q", "upstream/6.1.3"], repo)
        assert (repo / "django" / "core.py").read_text() == FAKE_FILES["django/core.py"]


def test_across_file_systems_the_import_is_copied(project, tmp_path, monkeypatch):
    def no_links(source, target):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(fork.os, "link", no_links)
    dest = tmp_path / "fork"

    assert main(["materialize", "--dest", str(dest)]) == 0

    packs = list((dest / ".git" / "objects" / "pack").glob("pack-*.pack"))
    assert packs and all(pack.stat().st_nlink == 1 for pack in packs)
    git(["fsck", "--no-progress"], dest)
    assert (dest / "django" / "core.py").read_text() == FAKE_FILES["django/core.py"]


def test_forks_made_at_the_same_time_wait_for_one_import(project, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from patchkit.core.manifest import load_manifest

    release = load_manifest().release("6.1")
    with ThreadPoolExecutor(2) as pool:
        forks = list(pool.map(lambda name: fork.materialize_fork(tmp_path / name, release), "ab"))

    shared = tmp_path / "cache" / "imports" / "Django-6.1.3.git"
    assert len(list((shared / "objects" / "pack").glob("*.pack"))) == 1
    assert len({git(["rev-parse", "upstream/6.1.3"], repo) for repo in forks}) == 1


def test_rematerializing_replaces_a_generated_fork(project, tmp_path):
    dest = tmp_path / "fork"
    assert main(["materialize", "--dest", str(dest)]) == 0
    (dest / "django" / "__pycache__").mkdir()
    (dest / "django" / "__pycache__" / "core.cpython-312.pyc").write_text("built\n")
    (dest / "django" / "core.py").write_text("edited\n")
    git(["checkout", "--", "django/core.py"], dest)

    assert main(["materialize", "--dest", str(dest)]) == 0

    assert not (dest / "django" / "__pycache__").exists()


@pytest.mark.parametrize("work", ["commit", "uncommitted", "untracked"])
def test_rematerializing_keeps_the_users_work(project, tmp_path, capsys, work):
    dest = tmp_path / "fork"
    assert main(["materialize", "--dest", str(dest)]) == 0
    (dest / "mine.txt").write_text("my work\n")
    if work == "commit":
        git(["add", "mine.txt"], dest)
        git(["-c", "user.name=U", "-c", "user.email=u@x", "commit", "-q", "-m", "Mine."], dest)
    elif work == "uncommitted":
        (dest / "django" / "core.py").write_text("edited\n")
        (dest / "mine.txt").unlink()
    head = git(["rev-parse", "HEAD"], dest)
    capsys.readouterr()

    assert main(["materialize", "--dest", str(dest)]) == 1

    err = capsys.readouterr().err
    assert err.startswith(f"error: refusing to replace {dest}: it has ")
    assert "next step: export them" in err
    assert git(["rev-parse", "HEAD"], dest) == head
    assert (dest / ("django/core.py" if work == "uncommitted" else "mine.txt")).exists()


def test_a_fork_whose_commits_were_exported_is_rebuilt_as_the_next_step_says(
    project, tmp_path, capsys
):
    dest = tmp_path / "fork"
    assert main(["materialize", "--dest", str(dest)]) == 0
    (dest / "django" / "core.py").write_text("def is_async(obj):\n    return None\n")
    commit_all(dest, "[6.1.x] Refs #1 -- Edited core.")
    assert main(["materialize", "--dest", str(dest)]) == 1
    assert main(["export", "--fork", str(dest)]) == 0
    capsys.readouterr()

    assert main(["materialize", "--dest", str(dest)]) == 0

    assert "refusing" not in capsys.readouterr().err
    assert git(["log", "-1", "--format=%s"], dest) == "[6.1.x] Refs #1 -- Edited core.\n"
    assert (dest / "django" / "core.py").read_text() == "def is_async(obj):\n    return None\n"


def test_a_half_built_fork_is_rebuilt(project, tmp_path):
    dest = tmp_path / "fork"
    dest.mkdir()
    git(["init", "-q"], dest)
    git(["config", "patchset.building", "true"], dest)
    (dest / "partial.txt").write_text("interrupted\n")

    assert main(["materialize", "--dest", str(dest)]) == 0

    assert not (dest / "partial.txt").exists()
    assert (dest / "django" / "core.py").exists()


def test_materialize_refuses_to_replace_a_folder_it_did_not_make(project, tmp_path, capsys):
    dest = tmp_path / "precious"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine\n")

    assert main(["materialize", "--dest", str(dest)]) == 1

    assert capsys.readouterr().err == (
        f"error: refusing to replace {dest}: it is not a fork made by patchset.py "
        "(no patchset.series in its git config)\n"
        "next step: move it away or pass another --dest\n"
    )
    assert (dest / "notes.txt").read_text() == "mine\n"


def test_series_is_applied_with_fixed_committer_and_kept_prefix(project, series_patch, tmp_path):
    dest = tmp_path / "fork"

    assert main(["materialize", "--dest", str(dest)]) == 0

    assert git(["log", "-1", "--format=%s|%an|%cn|%cd", "--date=iso-strict"], dest) == (
        "[6.1.x] Fixed #1 -- Made is_async() look at __call__.|Patch Author|"
        "Django sdist import|2001-02-03T04:05:06+00:00\n"
    )


def test_materialize_with_the_series_is_reproducible(project, series_patch, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"

    assert main(["materialize", "--dest", str(first)]) == 0
    assert main(["materialize", "--dest", str(second)]) == 0

    assert git(["rev-parse", "HEAD"], first) == git(["rev-parse", "HEAD"], second)


def test_import_then_export_reproduces_the_patch_files(project, series_patch, tmp_path):
    before = {path.name: path.read_bytes() for path in series_patch}
    assert list(before) == ["0001-6.1.x-Fixed-1-Made-is_async-look-at-__call__.patch"]
    dest = tmp_path / "fork"

    assert main(["materialize", "--dest", str(dest)]) == 0
    assert main(["export", "--fork", str(dest)]) == 0

    after = {
        path.name: path.read_bytes() for path in (project / "patches" / "6.1").glob("*.patch")
    }
    assert after == before


def test_export_replaces_the_old_patch_files(project, series_patch, tmp_path, capsys):
    dest = tmp_path / "fork"
    assert main(["materialize", "--dest", str(dest)]) == 0
    git(
        [
            "-c",
            "user.name=A",
            "-c",
            "user.email=a@b",
            "commit",
            "-q",
            "--amend",
            "-m",
            "[6.1.x] Fixed #1 -- Reworded.",
        ],
        dest,
    )

    assert main(["export", "--fork", str(dest)]) == 0

    names = [p.name for p in (project / "patches" / "6.1").glob("*.patch")]
    assert names == ["0001-6.1.x-Fixed-1-Reworded.patch"]
    assert "Exported 1 patch(es) of series 6.1" in capsys.readouterr().out


def test_export_refuses_a_folder_that_is_not_a_generated_fork(project, tmp_path, capsys):
    assert main(["export", "--fork", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (
        f"error: {tmp_path} is not a fork made by patchset.py\n"
        "next step: run `python3 scripts/patchset.py materialize` first\n"
    )


def test_compare_shows_range_diff_between_series(project, series_patch, capsys):
    backport = project / "patches" / "6.0" / series_patch[0].name
    backport.write_bytes(series_patch[0].read_bytes().replace(b"[6.1.x]", b"[6.0.x]"))
    capsys.readouterr()

    assert main(["compare", "6.1", "6.0"]) == 0

    out = capsys.readouterr().out
    assert "1:  " in out and " ! 1:  " in out
    assert "[6.0.x] Fixed #1" in out


def test_regression_app_is_linked_and_excluded(project, tmp_path):
    (project / "tests_regression").mkdir()
    (project / "tests_regression" / "__init__.py").write_text("")
    dest = tmp_path / "fork"

    assert main(["materialize", "--dest", str(dest)]) == 0

    link = dest / "tests" / "async_callable_regression"
    assert link.is_symlink() and link.resolve() == (project / "tests_regression").resolve()
    assert git(["status", "--porcelain", "--untracked-files=all"], dest) == ""


class Main:
    version, stand_in = "6.1.3", "6.2"


def test_the_main_stand_in_starts_the_next_feature_cycle():
    release_files = {
        "django/__init__.py": 'VERSION = (6, 1, 3, "final", 0)\n',
        "docs/conf.py": 'version = "6.1"\ndjango_next_version = "6.2"\n',
        "docs/releases/index.txt": "6.1 release\n-----------\n",
    }
    files = fork.stand_in_files(Main, release_files.__getitem__)

    assert files["django/__init__.py"] == 'VERSION = (6, 2, 0, "alpha", 0)\n'
    assert files["docs/conf.py"] == 'version = "6.2"\ndjango_next_version = "6.2"\n'
    assert files["docs/releases/index.txt"].startswith(
        "6.2 release\n-----------\n.. toctree::\n   :maxdepth: 1\n\n   6.2\n\n6.1 release\n"
    )
    stub = files["docs/releases/6.2.txt"]
    assert stub.startswith(
        "============================================\n"
        "Django 6.2 release notes - UNDER DEVELOPMENT\n"
    )
    assert "Backwards incompatible changes in 6.2\n=====================================\n" in stub


def test_the_stand_in_refuses_a_release_it_cannot_edit():
    files = {
        "django/__init__.py": "VERSION = get()\n",
        "docs/conf.py": "",
        "docs/releases/index.txt": "",
    }
    with pytest.raises(fork.CommandError, match="could not edit django/__init__.py"):
        fork.stand_in_files(Main, files.__getitem__)


def test_export_takes_the_branch_checked_out_and_says_so(project, series_patch, tmp_path, capsys):
    dest = tmp_path / "fork"
    assert main(["materialize", "--dest", str(dest)]) == 0
    git(["branch", "-m", "patched/6.1", "my-work"], dest)
    capsys.readouterr()

    assert main(["export", "--fork", str(dest)]) == 0

    out = capsys.readouterr().out
    assert f"Exporting branch my-work, the one checked out in {dest}" in out
    assert [p.name for p in (project / "patches" / "6.1").glob("*.patch")] == [
        p.name for p in series_patch
    ]


def test_export_refuses_a_detached_head_and_keeps_the_patch_files(
    project, series_patch, tmp_path, capsys
):
    dest = tmp_path / "fork"
    assert main(["materialize", "--dest", str(dest)]) == 0
    git(["checkout", "-q", "--detach"], dest)
    before = {p.name: p.read_bytes() for p in series_patch}
    capsys.readouterr()

    assert main(["export", "--fork", str(dest)]) == 1

    assert f"error: HEAD is detached in {dest}" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in series_patch} == before


def test_export_refuses_a_branch_without_the_series(project, series_patch, tmp_path, capsys):
    dest = tmp_path / "fork"
    assert main(["materialize", "--dest", str(dest)]) == 0
    git(["switch", "-q", "-c", "empty", "upstream/6.1.3"], dest)
    capsys.readouterr()

    assert main(["export", "--fork", str(dest)]) == 1

    assert "exporting it would remove every patch file" in capsys.readouterr().err
    assert all(p.exists() for p in series_patch)


def test_compare_takes_a_relative_fork_path_and_its_unexported_commits(
    project, tmp_path, monkeypatch, capsys
):
    fork_dir = tmp_path / "work" / "fork"
    assert main(["materialize", "--dest", str(fork_dir)]) == 0
    (fork_dir / "django" / "core.py").write_text("def is_async(obj):\n    return None\n")
    commit_all(fork_dir, "[6.1.x] Refs #1 -- Edited core, not exported.")
    monkeypatch.chdir(tmp_path / "work")
    capsys.readouterr()

    assert main(["compare", "6.1", "6.0", "--fork", "fork"]) == 0

    assert capsys.readouterr().out == (
        "Importing Django 6.0.10 as a commit...\n"
        "Series 6.1: 1 patch(es)\n"
        "  [6.1.x] Refs #1 -- Edited core, not exported.\n"
        "Series 6.0: 0 patch(es)\n"
    )
