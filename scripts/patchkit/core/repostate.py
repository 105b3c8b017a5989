"""What state a user's git repository is in, read from git's own files and
plumbing (never from its messages, which are translated), each with the command
that gets out of it; and the lock that keeps two runs of the tool apart."""

import errno
import fcntl
import os
import shlex
from pathlib import Path

from patchkit.core.errors import CommandError
from patchkit.core.git import GitError, run_git


def git_path(checkout, name):
    """The path of name inside checkout's git folder (`git rev-parse --git-path`)."""
    path = Path(run_git(["rev-parse", "--git-path", name], checkout).strip())
    return path if path.is_absolute() else Path(checkout) / path


def git_command(checkout, *words):
    """A git command line for checkout that works when pasted into a shell."""
    return shlex.join(["git", "-C", str(checkout), *words])


def head_commit(checkout):
    """HEAD's commit id, or None when the branch has no commit yet."""
    try:
        return run_git(["rev-parse", "-q", "--verify", "HEAD^{commit}"], checkout).strip()
    except GitError:
        return None


def am_in_progress(checkout):
    """Whether `git am --continue` and `--abort` can act: git's own test (the
    rebase-apply folder holds `last` and `next`, and `applying`)."""
    folder = git_path(checkout, "rebase-apply")
    return all((folder / name).is_file() for name in ("applying", "last", "next"))


def operation_in_progress(checkout):
    """The first git operation checkout is paused in, as (name, what, next step),
    or None. Read in the order git's own `status` reads them."""

    def cmd(*words):
        return f"`{git_command(checkout, *words)}`"

    def finish_or_drop(name, finish, drop, label=None):
        return (
            name,
            f"a {label or name} is in progress in {checkout}",
            f"finish it with {finish} or drop it with {drop}, then run apply again",
        )

    rebase_apply = git_path(checkout, "rebase-apply")
    if rebase_apply.is_dir():
        if not all((rebase_apply / name).is_file() for name in ("last", "next")):
            # What a `git am` or rebase killed half-way leaves: neither its
            # --continue nor its --abort acts on it.
            return (
                "broken am",
                f"{rebase_apply} is left from a `git am` or rebase that was killed "
                "before it could record its state; neither `--continue` nor `--abort` "
                "can clear it",
                f"check `{git_command(checkout, 'status')}` and `git log`, then remove "
                f"it (`rm -r {shlex.quote(str(rebase_apply))}`) and run apply again",
            )
        if (rebase_apply / "applying").exists():
            return finish_or_drop("am", cmd("am", "--continue"), cmd("am", "--abort"), "`git am`")
        return finish_or_drop("rebase", cmd("rebase", "--continue"), cmd("rebase", "--abort"))
    if git_path(checkout, "rebase-merge").is_dir():
        return finish_or_drop("rebase", cmd("rebase", "--continue"), cmd("rebase", "--abort"))
    if git_path(checkout, "MERGE_HEAD").is_file():
        return finish_or_drop("merge", cmd("commit"), cmd("merge", "--abort"))
    for head, name in (("CHERRY_PICK_HEAD", "cherry-pick"), ("REVERT_HEAD", "revert")):
        if git_path(checkout, head).is_file():
            return finish_or_drop(name, cmd(name, "--continue"), cmd(name, "--abort"))
    todo = git_path(checkout, "sequencer") / "todo"
    if todo.is_file():
        words = todo.read_text(errors="replace").split()
        name = "revert" if words[:1] in (["revert"], ["r"]) else "cherry-pick"
        return finish_or_drop(f"{name} sequence", cmd(name, "--continue"), cmd(name, "--abort"))
    if git_path(checkout, "BISECT_START").is_file():
        return (
            "bisect",
            f"a bisect is in progress in {checkout} (HEAD is one of its test points)",
            f"end it with {cmd('bisect', 'reset')}, then run apply again",
        )
    return None


def check_index_unlocked(checkout):
    lock = git_path(checkout, "index.lock")
    if lock.exists():
        raise CommandError(
            f"{lock} exists: another git command is running in {checkout}, or one "
            "crashed and left its lock",
            "wait for that git command to end; if none is running, remove the file "
            f"(`rm {shlex.quote(str(lock))}`) and run apply again",
        )


# What in the working tree would stop `git am` half-way ---------------------------


def files_with_crlf(checkout, paths):
    """The paths whose committed content has Windows line endings (`git ls-files
    --eol` says i/crlf): no context line of an LF patch matches them, and a 3-way
    merge conflicts on every line (the yanked Django 4.2.12 sdist is such a tree).
    A clone whose working tree has CRLF only through core.autocrlf is not one."""
    listing = run_git(["--literal-pathspecs", "ls-files", "--eol", "-z", "--", *paths], checkout)
    found = []
    for entry in listing.split("\0"):
        info, _, path = entry.partition("\t")
        if info.split()[:1] == ["i/crlf"]:
            found.append(path)
    return found


def tracked(checkout, paths):
    """Which of paths HEAD's tree has."""
    if not paths:
        return []
    listing = run_git(
        ["--literal-pathspecs", "ls-tree", "-r", "-z", "--name-only", "HEAD", "--", *paths],
        checkout,
    )
    return [path for path in listing.split("\0") if path]


def in_the_way(checkout, paths):
    """For each path the series creates that something in the checkout occupies (the
    file itself, or a file or symlink where one of its folders goes), what is there."""
    found = []
    for path in paths:
        if (checkout / path).exists() or (checkout / path).is_symlink():
            found.append(f"{path}, which already exists")
            continue
        for folder in reversed(Path(path).parents[:-1]):
            target = checkout / folder
            if target.is_symlink() or (target.exists() and not target.is_dir()):
                found.append(f"{path}, but the file {folder.as_posix()} is there")
                break
    return found


def unwritable_folders(checkout, paths):
    """The folders git must write in to change paths that this user cannot write
    in: `git am` would stop half-way there, and `am --abort` could not restore."""
    found = []
    for path in paths:
        folder = (checkout / path).parent
        while folder != checkout and not folder.is_dir():
            folder = folder.parent
        if not os.access(folder, os.W_OK) and folder not in found:
            found.append(folder)
    return found


class RepositoryLock:
    """One run of the tool per repository: an exclusive flock on a file in the git
    folder, made and removed by the run (the kernel releases the flock if the run
    dies, so a leftover file never blocks the next run)."""

    NAME = "patchset-apply.lock"

    def __init__(self, checkout):
        self.checkout = checkout
        self.path = None
        self.fd = None

    def acquire(self):
        self.path = git_path(self.checkout, self.NAME)
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as error:
                raise CommandError(
                    f"cannot write in the git folder of {self.checkout} "
                    f"({self.path}: {error.strerror})",
                    "make the repository writable for you, then run apply again",
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                os.close(fd)
                if error.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                raise CommandError(
                    f"another `patchset.py apply` is running in {self.checkout}",
                    "wait for it to end (it says how it ended), then run apply again",
                ) from None
            try:
                same_file = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same_file = False
            if same_file:
                self.fd = fd
                return self
            os.close(fd)  # the run before removed it between our open and flock

    def release(self):
        if self.fd is None:
            return
        try:
            os.unlink(self.path)
        finally:
            os.close(self.fd)
            self.fd = None
