"""`apply`: the series onto a user's own Django clone, with `git am -3` and the
blobs the patches were made against, never leaving a patch silently dropped."""

import ast
import contextlib
import hashlib
import io
import os
import re
import shlex
import sys
import tempfile
from pathlib import Path

from patchkit.core.errors import OperationError, UsageError
from patchkit.core.fork import (
    STAND_IN_STUB,
    materialize_fork,
    operation_in_progress,
    patched_branch,
    series_patch_files,
)
from patchkit.core.git import ISOLATED_CONFIG, GitError, run_git
from patchkit.core.manifest import cache_dir


def django_version_of(checkout):
    """The (major, minor) of VERSION in django/__init__.py, read without importing."""
    init = Path(checkout) / "django" / "__init__.py"
    try:
        body = ast.parse(init.read_text()).body
    except SyntaxError as error:
        raise OperationError(
            f"{init} is not valid Python (line {error.lineno}): its VERSION cannot be read",
            "fix the file, or pass --series explicitly",
        ) from None
    for node in body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "VERSION" for t in node.targets)
            and isinstance(node.value, ast.Tuple)
        ):
            major, minor = (ast.literal_eval(element) for element in node.value.elts[:2])
            return major, minor
    return None


def patch_author_and_subject(checkout, patch):
    """(author name, author email, subject) that `git am --keep-non-patch` gives the
    commit it makes from patch."""
    with tempfile.TemporaryDirectory() as scratch:
        info = run_git(
            ["mailinfo", "-b", str(Path(scratch) / "msg"), str(Path(scratch) / "patch")],
            checkout,
            ISOLATED_CONFIG,
            input=patch.read_text(errors="surrogateescape"),
        )
    fields = dict(line.partition(": ")[::2] for line in info.splitlines())
    return fields.get("Author", ""), fields.get("Email", ""), fields.get("Subject", "")


class AppliedJudge:
    """Whether the series' patches are in HEAD, judged by the result (see
    applied_prefix); git is asked once for what every judgement shares."""

    def __init__(self, checkout, scratch, fetch_blobs):
        self.checkout, self.scratch, self.fetch_blobs = checkout, Path(scratch), fetch_blobs
        self.commits = None  # (author name, email, subject) -> commits, newest first
        self.identities = {}  # patch -> (author name, email, subject)
        self.resolutions = {}  # (patch, commit) -> bool

    def env(self, name):
        return {**ISOLATED_CONFIG, "GIT_INDEX_FILE": str(self.scratch / f"index-{name}")}

    def reverse_applies(self, diff_args, env, input=None):
        try:
            run_git(["apply", "--cached", "--reverse", *diff_args], self.checkout, env, input)
        except GitError:
            return False  # git apply changes nothing unless the whole diff applies
        return True

    def candidates(self, patch):
        if self.commits is None:
            self.commits = {}
            log = run_git(
                ["log", "--no-merges", "--no-show-signature", "--format=%H%x00%an%x00%ae%x00%s"],
                self.checkout,
                ISOLATED_CONFIG,
            )
            for line in log.splitlines():
                commit, *identity = line.split("\0")
                self.commits.setdefault(tuple(identity), []).append(commit)
        if patch not in self.identities:
            self.identities[patch] = patch_author_and_subject(self.checkout, patch)
        return self.commits.get(self.identities[patch], [])

    def is_resolution(self, patch, commit):
        """True if `git am -3` stops on patch at commit's parent: commit, which has
        the patch's author and subject, is then the user's resolution of it."""
        key = (patch, commit)
        if key not in self.resolutions:
            env = self.env("parent")
            try:
                run_git(["read-tree", f"{commit}^"], self.checkout, env)
            except GitError:
                self.resolutions[key] = False  # a root commit, or a shallow clone's first
                return False
            try:
                run_git(["apply", "--cached", "--check", str(patch)], self.checkout, env)
                self.resolutions[key] = False  # applies as is: no resolution was needed
                return False
            except GitError:
                pass
            self.resolutions[key] = not self.merges_cleanly(patch, env)
        return self.resolutions[key]

    def merges_cleanly(self, patch, env):
        """`git apply -3` of patch onto the index env points at, as `git am -3` does,
        with the blobs the patch names fetched if the repository lacks them."""
        for attempt in ("as is", "with the blobs"):
            try:
                run_git(["apply", "--cached", "--3way", str(patch)], self.checkout, env)
            except GitError as error:
                if attempt == "as is" and "lacks the necessary blob" in error.output:
                    self.fetch_blobs()
                    continue
                return False
            return True

    def unapply(self, patch, env):
        """Take patch's changes out of the index env points at; False if they are not
        there."""
        if self.reverse_applies([str(patch)], env):
            return True
        for commit in self.candidates(patch):
            if self.is_resolution(patch, commit):
                diff = run_git(
                    ["diff-tree", "-p", "--binary", "--full-index", "--no-commit-id", commit],
                    self.checkout,
                    ISOLATED_CONFIG,
                )
                if diff and self.reverse_applies([], env, diff):
                    return True
        return False


def applied_prefix(checkout, patch_files, fetch_blobs):
    """How many of the series' patches, from the first, are in HEAD, judged by the
    result, not by commit ids: the patches' changes, last first, reverse-apply to
    HEAD's tree. A patch the user resolved by hand in `git am` no longer
    reverse-applies; it counts as applied when HEAD's history has a commit with its
    author and subject that is its resolution (`git am -3` stops on the patch at
    that commit's parent) and whose own changes reverse-apply in its place.

    So a series applied and then reverted counts as not applied, and so does a new
    version of a patch that applies or merges cleanly where its old version was
    committed. fetch_blobs() makes the blobs the patches were made against available
    for that 3-way check (it is called only when a check needs it)."""
    with tempfile.TemporaryDirectory() as scratch:
        judge = AppliedJudge(checkout, scratch, fetch_blobs)
        for count in range(len(patch_files), 0, -1):
            env = judge.env(count)
            run_git(["read-tree", "HEAD"], checkout, env)
            if all(judge.unapply(patch, env) for patch in reversed(patch_files[:count])):
                return count
    return 0


def files_added_by(checkout, patch_files):
    """The paths the patches create, from `git apply --summary` (not from the text,
    where a commit message could hold a line that looks like a diff's)."""
    added = []
    for patch in patch_files:
        summary = run_git(["apply", "--summary", str(patch)], checkout, ISOLATED_CONFIG)
        for line in summary.splitlines():
            words = line.split(" ", 4)
            if len(words) == 5 and words[1:3] == ["create", "mode"]:
                added.append(words[4])
    return added


def files_with_crlf(checkout, patch_files):
    """The files the patches change that have Windows line endings in the checkout:
    no context line of an LF patch matches them, and a 3-way merge conflicts on
    every line (the yanked Django 4.2.12 sdist is such a tree)."""
    found = []
    for patch in patch_files:
        numstat = run_git(["apply", "--numstat", str(patch)], checkout, ISOLATED_CONFIG)
        for line in numstat.splitlines():
            path = checkout / line.split("\t", 2)[2]
            if path.is_file() and path not in found:
                data = path.read_bytes()
                if data.count(b"\r\n") * 2 > data.count(b"\n"):
                    found.append(path)
    return [path.relative_to(checkout).as_posix() for path in found]


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


def check_django_checkout(checkout):
    if not (checkout / "django" / "__init__.py").is_file():
        raise UsageError(
            f"{checkout} is not a Django checkout (no django/__init__.py)",
            "pass the top folder of your Django git clone",
        )
    try:
        top = run_git(["rev-parse", "--show-toplevel"], checkout).strip()
    except GitError:
        top = None
    if top is None or Path(top).resolve() != checkout.resolve():
        raise UsageError(
            f"{checkout} is not the top of a git checkout",
            "pass the top folder of your Django git clone",
        )


def check_ready_to_apply(checkout):
    in_progress = operation_in_progress(checkout)
    if in_progress == "am":
        raise OperationError(
            f"a `git am` is already in progress in {checkout}",
            f"finish it with `git -C {checkout} am --continue` or drop it with "
            f"`git -C {checkout} am --abort`, then run apply again",
        )
    if in_progress == "rebase":
        raise OperationError(
            f"a rebase is in progress in {checkout}",
            f"finish it with `git -C {checkout} rebase --continue` or drop it with "
            f"`git -C {checkout} rebase --abort`, then run apply again",
        )
    if run_git(["status", "--porcelain", "--untracked-files=no"], checkout).strip():
        raise OperationError(
            f"{checkout} has uncommitted changes",
            f"commit or stash them (`git -C {checkout} stash`), then run apply again",
        )


def series_for_checkout(checkout, manifest, series):
    if series:
        return manifest.release(series)
    version = django_version_of(checkout)
    if version is None:
        raise OperationError(
            f"no VERSION tuple in {checkout / 'django' / '__init__.py'}",
            "pass --series explicitly",
        )
    detected = f"{version[0]}.{version[1]}"
    for release in manifest.releases.values():
        if release.stand_in == detected:
            return release  # Django's main branch, developing the next feature release
    if detected not in manifest.releases:
        raise OperationError(
            f"Django {detected} (from {checkout / 'django' / '__init__.py'}) has no patch series",
            f"the series are {', '.join(manifest.releases)}; pass --series to pick one",
        )
    return manifest.releases[detected]


BLOBS_REF = "refs/patchset/apply-blobs"


def full_version_of(checkout):
    source = (Path(checkout) / "django" / "__init__.py").read_text()
    found = re.search(r"^VERSION = \((\d+), (\d+), (\d+), \"(\w+)\"", source, re.M)
    if not found:
        return None
    major, minor, micro, level = found.groups()
    return f"{major}.{minor}.{micro}" if level == "final" else f"{major}.{minor} {level}"


def why_am_stopped(output, checkout):
    """(what happened, next step) for a `git am` that stopped, from git's words."""
    resolve = (
        f"`git -C {checkout} add` the files, then `git -C {checkout} am --continue`; "
        f"or undo everything with `git -C {checkout} am --abort`"
    )
    if "would be overwritten" in output or "already exists in working directory" in output:
        return (
            "an untracked file is in the way of a file the patch creates",
            f"undo with `git -C {checkout} am --abort`, move the file away, and run apply again",
        )
    conflicted = run_git(["diff", "--name-only", "--diff-filter=U"], checkout).split()
    if conflicted:
        return (
            f"the patch conflicts with your branch in {', '.join(conflicted)}",
            f"resolve the conflict markers in those files, {resolve}",
        )
    if signing_failed(output, checkout):
        return (
            "git could not sign the commit (commit.gpgsign is set)",
            f"undo with `git -C {checkout} am --abort`, then fix signing (see "
            f"`git -C {checkout} config gpg.program`) or turn it off in this repository "
            f"(`git -C {checkout} config commit.gpgsign false`), and run apply again",
        )
    return ("git am stopped", f"read git's output above, then {resolve}")


def signing_failed(output, checkout):
    """Whether `git am` stopped because the commit could not be signed: git says so
    ("gpg failed to sign the data"), or, with another signing program, only that it
    could not write the commit while commit.gpgsign is on."""
    if "failed to sign" in output:
        return True
    try:
        signing = run_git(["config", "--type=bool", "commit.gpgsign"], checkout).strip()
    except GitError:
        return False
    return signing == "true" and "failed to write commit object" in output


def apply_to_user_fork(checkout, manifest, series=None):
    """git am -3 the series onto the checked-out branch of the user's Django clone,
    with the user's own git configuration; return the exit status."""
    checkout = Path(checkout).absolute()
    if not checkout.is_dir():
        raise UsageError(
            f"{checkout} is not a directory", "pass the top folder of your Django git clone"
        )
    check_django_checkout(checkout)
    check_ready_to_apply(checkout)
    release = series_for_checkout(checkout, manifest, series)
    patch_files = series_patch_files(release)
    if not patch_files:
        print(f"Series {release.series} has no patches: nothing to apply.")
        return 0
    try:
        detected = django_version_of(checkout)
    except OperationError:
        detected = None  # --series was given: the version is only for a warning
    detected = detected and f"{detected[0]}.{detected[1]}"
    if series and detected and detected not in (release.series, release.stand_in):
        print(
            f"Warning: your checkout is Django {detected}; applying series "
            f"{release.series} as asked."
        )
    try:
        run_git(["symbolic-ref", "-q", "HEAD"], checkout)
    except GitError:
        print("Warning: HEAD is detached; the commits will not be on a branch.")
    blobs = SeriesBlobs(checkout, release)
    try:
        done = applied_prefix(checkout, patch_files, blobs.fetch)
        if done == len(patch_files):
            print(f"Series {release.series} is already applied in {checkout}: nothing to do.")
            return 0
        missing = patch_files[done:]
        for patch in patch_files[:done]:
            print(f"Already applied: {patch.name}")
        occupied = in_the_way(checkout, files_added_by(checkout, missing))
        if occupied:
            raise OperationError(
                f"the series creates {'; '.join(occupied)} in {checkout}",
                "move it away (or commit its removal), then run apply again",
            )
        crlf = files_with_crlf(checkout, missing)
        if crlf:
            raise OperationError(
                f"{len(crlf)} file(s) the series changes have Windows line endings (CRLF) "
                f"in {checkout}, the patches Unix ones: {', '.join(crlf)}; nothing was changed",
                "if this is Django 4.2.12, move to 4.2.13 (4.2.12 was yanked from PyPI for "
                "its CRLF files; 4.2.13 only fixes that); otherwise convert them and commit: "
                f"`cd {shlex.quote(str(checkout))} && sed -i 's/\\r$//' {shlex.join(crlf)} "
                "&& git commit -q -a "
                "-m 'Converted line endings to LF.'`, then run apply again",
            )
        version = full_version_of(checkout)
        if version and version != release.version and not release.stand_in:
            print(
                f"The series was made on Django {release.version}; your checkout is "
                f"{version}: git am -3 merges the differences."
            )
        blobs.fetch()
        am_with_blobs(checkout, release, missing)
    finally:
        blobs.remove()
    for patch in missing:
        print(f"Applied: {patch.name}")
    print(f"Series {release.series} applied in {checkout}.")
    return 0


def series_bundle(release):
    """A git bundle of the materialized series (its import and patched branch), kept
    in the cache under a name made of the release's checksum, the main stand-in's
    stub and the patch files' contents, so apply builds it once per series version,
    not once per run."""
    digest = hashlib.sha256(f"{release.sha256}\0{release.stand_in}\0".encode())
    if release.stand_in:
        digest.update(STAND_IN_STUB.read_bytes())
    for patch in series_patch_files(release):
        digest.update(hashlib.sha256(patch.read_bytes()).digest())
    folder = cache_dir() / "series"
    bundle = folder / f"{release.series}-{digest.hexdigest()[:16]}.bundle"
    if bundle.is_file():
        return bundle
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise OperationError(
            f"the series cache {folder} cannot be written ({error.strerror})",
            "point PATCHSET_CACHE at a writable folder, or unset it",
        ) from None
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        with contextlib.redirect_stdout(io.StringIO()):
            base = materialize_fork(Path(scratch) / "series", release)
        partial = Path(scratch) / "series.bundle"
        run_git(["bundle", "create", "-q", str(partial), patched_branch(release)], base)
        os.replace(partial, bundle)  # atomic: a concurrent apply sees all or nothing
    return bundle


class SeriesBlobs:
    """The blobs the patches were made against, fetched from the series bundle into
    a private ref on first need and removed with remove(): with them a fork of
    another point release, or one with its own edits, gets a 3-way merge instead of
    "could not build fake ancestor"."""

    def __init__(self, checkout, release):
        self.checkout, self.release, self.fetched = checkout, release, False

    def fetch(self):
        if self.fetched:
            return
        print(
            f"Fetching the files the series was made against ({self.release.base_name})...",
            flush=True,
        )
        bundle = series_bundle(self.release)
        self.fetched = True  # from here on remove() has a ref to delete
        branch = patched_branch(self.release)
        run_git(
            ["fetch", "-q", "--no-tags", str(bundle), f"+refs/heads/{branch}:{BLOBS_REF}"],
            self.checkout,
        )

    def remove(self):
        if self.fetched:
            run_git(["update-ref", "-d", BLOBS_REF], self.checkout)


def am_with_blobs(checkout, release, patches):
    """`git am -3` of patches, the blobs fetched; a stop is an OperationError that
    says why and what to do."""
    print(
        f"Applying {len(patches)} patch(es) of series {release.series} with `git am -3`...",
        flush=True,
    )
    try:
        run_git(["am", "-3", "--keep-non-patch", *map(str, patches)], checkout)
    except GitError as error:
        if operation_in_progress(checkout) != "am":
            raise
        print(error.output, file=sys.stderr)
        what, next_step = why_am_stopped(error.output, checkout)
        raise OperationError(
            f"a patch of series {release.series} did not apply: {what}; {checkout} is "
            "stopped in git am",
            next_step,
        ) from None
