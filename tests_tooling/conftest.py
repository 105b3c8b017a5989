"""Fixtures: a tiny fake Django sdist, a manifest pointing at it, throwaway git repos.

Nothing here touches the network: the sdist is put in the (temporary) cache with
its checksum in the (temporary) manifest.
"""

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
sys.path.insert(0, str(SCRIPTS))

FAKE_FILES = {
    "django/__init__.py": 'VERSION = (6, 1, 3, "final", 0)\n',
    "django/core.py": "def is_async(obj):\n    return False\n",
    "tests/basic/__init__.py": "",
    "tests/basic/tests.py": (
        "import unittest\n\n\nclass BasicTests(unittest.TestCase):\n"
        "    def test_old(self):\n        pass\n"
    ),
    "README.rst": "Fake Django.\n",
    "PKG-INFO": "Name: Django\n",
    "Django.egg-info/PKG-INFO": "Name: Django\n",
}


def git(args, cwd, **kwargs):
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, **kwargs
    ).stdout


def make_sdist(path, version, files=FAKE_FILES):
    """A .tar.gz shaped like Django's: one top folder django-<version>/."""
    with tarfile.open(path, "w:gz") as archive:
        for name, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(f"django-{version}/{name}")
            info.size = len(data)
            info.mtime = 946684800
            archive.addfile(info, io.BytesIO(data))
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def isolated_git(tmp_path, monkeypatch):
    """Neither this machine's git config nor its identity leaks into the tests."""
    global_config = tmp_path / "gitconfig"
    global_config.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(global_config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in (
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "GIT_DIR",
        "GIT_WORK_TREE",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def progress_printed():
    """Progress lines go where the CLI sends them, also when a test calls a command's
    function directly."""
    from patchkit.cli import CONSOLE
    from patchkit.core.report import set_progress

    previous = set_progress(CONSOLE)
    yield
    set_progress(previous)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder with patches/, a cache holding the fake sdists and a manifest
    with series 6.1 (fake 6.1.3) and 6.0 (fake 6.0.10)."""
    project_dir = tmp_path / "project"
    (project_dir / "patches" / "6.1").mkdir(parents=True)
    (project_dir / "patches" / "6.0").mkdir(parents=True)
    sdists = tmp_path / "cache" / "sdists"
    sdists.mkdir(parents=True)
    series = {}
    for name, version in (("6.1", "6.1.3"), ("6.0", "6.0.10")):
        files = dict(FAKE_FILES)
        files["django/__init__.py"] = f'VERSION = ({version.replace(".", ", ")}, "final", 0)\n'
        sha = make_sdist(sdists / f"django-{version}.tar.gz", version, files)
        series[name] = {"version": version, "sha256": sha, "pythons": ["3.12"]}
    manifest = tmp_path / "releases.json"
    manifest.write_text(
        json.dumps({"default_series": "6.1", "series": series, "labels": ["basic"]})
    )
    monkeypatch.setenv("PATCHSET_MANIFEST", str(manifest))
    monkeypatch.setenv("PATCHSET_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATCHSET_PROJECT", str(project_dir))
    return project_dir


def commit_all(repo, message, date="2001-02-03T04:05:06+0000"):
    env = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    git(["add", "-A"], repo)
    git(
        [
            "-c",
            "user.name=Patch Author",
            "-c",
            "user.email=author@example.com",
            "-c",
            "commit.gpgsign=false",
            "commit",
            "-q",
            "-m",
            message,
        ],
        repo,
        env={**os.environ, **env},
    )


@pytest.fixture
def series_patch(project, tmp_path):
    """patches/6.1/0001-*.patch written by export from a materialized fork."""
    from patchkit.cli import main

    fork = tmp_path / "author_fork"
    assert main(["materialize", "--dest", str(fork)]) == 0
    (fork / "django" / "core.py").write_text(
        "def is_async(obj):\n    return callable(getattr(type(obj), '__call__', None))\n"
    )
    (fork / "tests" / "basic" / "tests.py").write_text(
        FAKE_FILES["tests/basic/tests.py"] + "\n    def test_new(self):\n        pass\n"
    )
    commit_all(fork, "[6.1.x] Fixed #1 -- Made is_async() look at __call__.\n\nBecause.")
    assert main(["export", "--fork", str(fork)]) == 0
    return sorted((project / "patches" / "6.1").glob("*.patch"))


@pytest.fixture
def user_fork(tmp_path):
    """A user's Django clone: the fake release plus a commit of their own."""
    repo = tmp_path / "user_fork"
    for name, text in FAKE_FILES.items():
        if name.startswith("Django.egg-info"):
            continue
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(["init", "-q", "-b", "main"], repo)
    git(["config", "user.name", "Fork User"], repo)
    git(["config", "user.email", "user@example.com"], repo)
    git(["config", "commit.gpgsign", "false"], repo)
    git(["add", "-A"], repo)
    git(["commit", "-q", "-m", "Initial."], repo)
    (repo / "LOCAL.txt").write_text("our own change\n")
    git(["add", "-A"], repo)
    git(["commit", "-q", "-m", "Our own commit."], repo)
    return repo


def repo_state(repo):
    """HEAD, git status and every tracked file's content: what 'unchanged' means."""
    return (
        git(["rev-parse", "HEAD"], repo),
        git(["status", "--porcelain"], repo),
        git(["diff", "HEAD"], repo),
    )


# What git leaves in .git as bookkeeping when nothing changed for the user: reflogs,
# objects, ORIG_HEAD and the like. Everything else in it is part of a snapshot.
GIT_BOOKKEEPING = {
    "objects",
    "logs",
    "refs",
    "packed-refs",
    "index",
    "ORIG_HEAD",
    "FETCH_HEAD",
    "AUTO_MERGE",
    "COMMIT_EDITMSG",
    "config",
}


def full_snapshot(repo):
    """Everything a user could notice changed in repo: HEAD, branch, index, status
    with untracked and ignored files, every ref, the stash, the local config, what
    else is in .git (operations in progress, lock files, with their contents) and
    every working-tree file's sha256 and mode."""

    def run(*args):
        completed = subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, env={**os.environ, "LC_ALL": "C"}
        )
        return completed.returncode, completed.stdout

    git_dir = Path(repo) / ".git"
    in_git_dir = {}
    for path in sorted(git_dir.rglob("*")):
        relative = path.relative_to(git_dir)
        if relative.parts[0] in GIT_BOOKKEEPING:
            continue
        in_git_dir[relative.as_posix()] = (
            hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "folder"
        )
    files = {}
    for path in sorted(Path(repo).rglob("*")):
        relative = path.relative_to(repo)
        if relative.parts[0] == ".git":
            continue
        mode = path.lstat().st_mode
        if path.is_symlink():
            files[relative.as_posix()] = (mode, os.readlink(path))
        elif path.is_file():
            files[relative.as_posix()] = (mode, hashlib.sha256(path.read_bytes()).hexdigest())
        else:
            files[relative.as_posix()] = (mode, "folder")
    return {
        "HEAD": run("rev-parse", "-q", "--verify", "HEAD"),
        "branch": run("symbolic-ref", "-q", "HEAD"),
        "index": run("ls-files", "-s", "-z"),
        "status": run("status", "--porcelain", "--ignored", "-uall", "-z"),
        "refs": run("for-each-ref", "--format=%(refname) %(objectname)"),
        "stash": run("stash", "list", "--format=%H"),
        "config": (git_dir / "config").read_bytes(),
        "git dir": in_git_dir,
        "files": files,
    }
