"""`apply`: the series onto a user's own Django clone, with `git am -3` and the
blobs the patches were made against, never leaving a patch silently dropped."""

import ast
import hashlib
import os
import re
import shlex
import tempfile
from pathlib import Path

from patchkit.core.applied import applied_prefix, changed_paths, files_added_by
from patchkit.core.errors import CommandError
from patchkit.core.fork import (
    STAND_IN_STUB,
    materialize_fork,
    patched_branch,
    series_patch_files,
)
from patchkit.core.git import GitError, run_git
from patchkit.core.interrupts import Interrupts
from patchkit.core.manifest import cache_dir
from patchkit.core.report import progress, silenced_progress
from patchkit.core.repostate import (
    RepositoryLock,
    am_in_progress,
    check_index_unlocked,
    files_with_crlf,
    git_command,
    git_path,
    head_commit,
    in_the_way,
    operation_in_progress,
    tracked,
    unwritable_folders,
)
from patchkit.core.sdists import sha256_of


def django_version_of(checkout):
    """The (major, minor) of VERSION in django/__init__.py, read without importing;
    None if there is no VERSION."""
    init = Path(checkout) / "django" / "__init__.py"
    try:
        body = ast.parse(init.read_bytes()).body
    except (SyntaxError, ValueError) as error:
        where = f" (line {error.lineno})" if getattr(error, "lineno", None) else ""
        raise CommandError(
            f"{init} is not valid Python{where}: its VERSION cannot be read",
            "fix the file, or pass --series explicitly",
        ) from None
    for node in body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "VERSION" for t in node.targets
        ):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                value = None
            if (
                isinstance(value, tuple)
                and len(value) >= 2
                and all(type(number) is int for number in value[:2])
            ):
                return value[0], value[1]
            raise CommandError(
                f"VERSION in {init} (line {node.lineno}) is not a tuple that starts with "
                'two numbers, such as (6, 1, 3, "final", 0)',
                "fix it, or pass --series explicitly",
            )
    return None


def check_django_checkout(checkout):
    if not (checkout / "django" / "__init__.py").is_file():
        raise CommandError.usage(
            f"{checkout} is not a Django checkout (no django/__init__.py)",
            "pass the top folder of your Django git clone",
        )
    try:
        top = run_git(["rev-parse", "--show-toplevel"], checkout).strip()
    except GitError:
        top = None
    if top is None or Path(top).resolve() != checkout.resolve():
        raise CommandError.usage(
            f"{checkout} is not the top of a git checkout",
            "pass the top folder of your Django git clone",
        )


def series_for_checkout(checkout, manifest, series):
    if series:
        return manifest.release(series)
    version = django_version_of(checkout)
    if version is None:
        raise CommandError(
            f"no VERSION tuple in {checkout / 'django' / '__init__.py'}",
            "pass --series explicitly",
        )
    detected = f"{version[0]}.{version[1]}"
    for release in manifest.releases.values():
        if release.stand_in == detected:
            return release  # Django's main branch, developing the next feature release
    if detected not in manifest.releases:
        raise CommandError(
            f"Django {detected} (from {checkout / 'django' / '__init__.py'}) has no patch series",
            f"the series are {', '.join(manifest.releases)}; pass --series to pick one",
        )
    return manifest.releases[detected]


BLOBS_REF = "refs/patchset/apply-blobs"


def full_version_of(checkout):
    source = (Path(checkout) / "django" / "__init__.py").read_text(errors="replace")
    found = re.search(r"^VERSION = \((\d+), (\d+), (\d+), \"(\w+)\"", source, re.M)
    if not found:
        return None
    major, minor, micro, level = found.groups()
    return f"{major}.{minor}.{micro}" if level == "final" else f"{major}.{minor} {level}"


def why_am_stopped(checkout):
    """(what happened, next step) for a `git am` that stopped, read from the state it
    left, not from its messages."""

    def cmd(*words):
        return f"`{git_command(checkout, *words)}`"

    undo = f"undo with {cmd('am', '--abort')}"
    listing = run_git(["diff", "--name-only", "-z", "--diff-filter=U"], checkout)
    conflicted = [path for path in listing.split("\0") if path]
    if conflicted:
        return (
            f"the patch conflicts with your branch in {', '.join(conflicted)}",
            f"resolve the conflict markers in those files, {cmd('add', '--', *conflicted)}, "
            f"then {cmd('am', '--continue')}; or undo everything with {cmd('am', '--abort')}",
        )
    try:
        run_git(["diff", "--cached", "--quiet"], checkout)
        patched = False  # stopped before the patch reached the index
    except GitError:
        patched = True  # the patch is in the index: the commit was not made
    hook = git_path(checkout, "hooks/pre-applypatch" if patched else "hooks/applypatch-msg")
    if hook.is_file() and os.access(hook, os.X_OK):
        return (
            f"the hook {hook} refused the patch (its output is above)",
            f"{undo}, fix the hook or move it away (`am --continue` would run it "
            "again), then run apply again",
        )
    if patched and signing_on(checkout):
        return (
            "git could not sign the commit (commit.gpgsign is set)",
            f"{undo}, then fix signing (see {cmd('config', 'gpg.program')}) or turn it "
            f"off in this repository ({cmd('config', 'commit.gpgsign', 'false')}), "
            "and run apply again",
        )
    return (
        "git am stopped (its output is above)",
        f"fix what it names, {cmd('add')} the files, then {cmd('am', '--continue')}; or {undo}",
    )


def signing_on(checkout):
    try:
        return run_git(["config", "--type=bool", "commit.gpgsign"], checkout).strip() == "true"
    except GitError:
        return False  # not set


class Run:
    """What one apply run has done so far: enough to say, after an interrupt, what
    state the repository is in."""

    def __init__(self):
        self.head = None
        self.am_started = False


def apply_to_user_fork(checkout, manifest, series=None):
    """git am -3 the series onto the checked-out branch of the user's Django clone,
    with the user's own git configuration; return the exit status. One run per
    repository at a time; after SIGINT or SIGTERM the repository is as it was, or
    fully applied, or (if `git am --abort` failed) in git am."""
    checkout = Path(checkout).absolute()
    if not checkout.is_dir():
        raise CommandError.usage(
            f"{checkout} is not a directory", "pass the top folder of your Django git clone"
        )
    run = Run()
    with Interrupts() as interrupts:
        lock = RepositoryLock(checkout)
        try:
            try:
                try:
                    check_django_checkout(checkout)
                    with interrupts.held_back():
                        lock.acquire()
                    status = apply_locked(checkout, manifest, series, run, interrupts)
                finally:
                    interrupts.hold()  # from here on nothing is cut short
            except KeyboardInterrupt:
                status = None
            if status is None or interrupts.pending:
                raise after_interrupt(checkout, run)
            return status
        finally:
            lock.release()


def after_interrupt(checkout, run):
    """The CommandError that says where an interrupted run left checkout, after
    undoing the `git am` the run started, if it is stopped."""
    if run.am_started and am_in_progress(checkout):
        try:
            run_git(["am", "--abort"], checkout)
        except GitError as error:
            return CommandError(
                f"interrupted while `git am` ran, and `git am --abort` failed:\n"
                f"{error.output}\n{checkout} is stopped in git am",
                f"finish with `{git_command(checkout, 'am', '--continue')}` or undo with "
                f"`{git_command(checkout, 'am', '--abort')}`",
            )
        if head_commit(checkout) == run.head:
            return CommandError(
                f"interrupted; the `git am` this run started was undone (`git am "
                f"--abort`): {checkout} is as it was",
                "run apply again",
            )
    if run.am_started and head_commit(checkout) != run.head:
        return CommandError(
            f"interrupted after `git am` had applied the series in {checkout}",
            "nothing to undo: the series is applied (apply again says so)",
        )
    return CommandError(f"interrupted; nothing was changed in {checkout}", "run apply again")


def check_ready_to_apply(checkout):
    state = operation_in_progress(checkout)
    if state:
        _, what, next_step = state
        raise CommandError(what, next_step)
    check_index_unlocked(checkout)
    if head_commit(checkout) is None:
        raise CommandError(
            f"{checkout} has no commit yet",
            "commit your Django checkout first, then run apply again",
        )
    if run_git(["status", "--porcelain", "--untracked-files=no"], checkout).strip():
        raise CommandError(
            f"{checkout} has uncommitted changes",
            f"commit or stash them (`{git_command(checkout, 'stash')}`), then run apply again",
        )


def apply_locked(checkout, manifest, series, run, interrupts):
    check_ready_to_apply(checkout)
    run.head = head_commit(checkout)
    release = series_for_checkout(checkout, manifest, series)
    patch_files = series_patch_files(release)
    if not patch_files:
        progress(f"Series {release.series} has no patches: nothing to apply.")
        return 0
    try:
        detected = django_version_of(checkout)
    except CommandError:
        detected = None  # --series was given: the version is only for a warning
    detected = detected and f"{detected[0]}.{detected[1]}"
    if series and detected and detected not in (release.series, release.stand_in):
        progress(
            f"Warning: your checkout is Django {detected}; applying series "
            f"{release.series} as asked."
        )
    try:
        run_git(["symbolic-ref", "-q", "HEAD"], checkout)
    except GitError:
        progress("Warning: HEAD is detached; the commits will not be on a branch.")
    blobs = SeriesBlobs(checkout, release)
    try:
        done, reworked = applied_prefix(checkout, patch_files, blobs.fetch)
        for patch in patch_files[:done]:
            if patch in reworked:
                progress(f"Already applied: {patch.name}, as your commit {reworked[patch][:12]}")
            elif done < len(patch_files):
                progress(f"Already applied: {patch.name}")
        if done == len(patch_files):
            progress(f"Series {release.series} is already applied in {checkout}: nothing to do.")
            return 0
        missing = patch_files[done:]
        check_missing_can_apply(checkout, missing)
        version = full_version_of(checkout)
        if version and version != release.version and not release.stand_in:
            progress(
                f"The series was made on Django {release.version}; your checkout is "
                f"{version}: git am -3 merges the differences."
            )
        blobs.fetch()
        am_with_blobs(checkout, release, missing, run)
    finally:
        with interrupts.held_back():
            blobs.remove()
    for patch in missing:
        progress(f"Applied: {patch.name}")
    progress(f"Series {release.series} applied in {checkout}.")
    return 0


def check_missing_can_apply(checkout, missing):
    """Refuse, before anything changes, what `git am` would stop on half-way."""
    created = files_added_by(checkout, missing)
    there = tracked(checkout, created)
    if there:
        raise CommandError(
            f"the series creates {', '.join(there)}, which HEAD already has in {checkout}: "
            "part of the series seems applied in a form apply does not recognise",
            f"see `{git_command(checkout, 'log', '--', *there)}`; to apply the series "
            "afresh, revert those commits first, then run apply again",
        )
    occupied = in_the_way(checkout, created)
    if occupied:
        raise CommandError(
            f"the series creates {'; '.join(occupied)} in {checkout}",
            "move it away, then run apply again",
        )
    paths = changed_paths(checkout, missing)
    crlf = files_with_crlf(checkout, paths)
    if crlf:
        raise CommandError(
            f"{len(crlf)} file(s) the series changes have Windows line endings (CRLF) "
            f"in {checkout}, the patches Unix ones: {', '.join(crlf)}; nothing was changed",
            "if this is Django 4.2.12, move to 4.2.13 (4.2.12 was yanked from PyPI for "
            "its CRLF files; 4.2.13 only fixes that); otherwise convert them and commit: "
            f"`cd {shlex.quote(str(checkout))} && sed -i 's/\\r$//' {shlex.join(crlf)} "
            "&& git -c core.autocrlf=false commit -q -a "
            "-m 'Converted line endings to LF.'`, then run apply again",
        )
    locked = unwritable_folders(checkout, paths)
    if locked:
        raise CommandError(
            f"you cannot write in {', '.join(map(str, locked))}, where the series changes "
            f"files; nothing was changed",
            f"make {'it' if len(locked) == 1 else 'them'} writable "
            f"(`chmod u+w {shlex.join(map(str, locked))}`), then run apply again",
        )


def series_bundle(release):
    """A git bundle of the materialized series (its import and patched branch), kept
    in the cache under a name made of the release's checksum, the main stand-in's
    stub and the patch files' contents, so apply builds it once per series version,
    not once per run. Its sha256, kept beside it, is checked on every use: a
    damaged bundle (a full disk, an interrupted copy) is named and rebuilt."""
    digest = hashlib.sha256(f"{release.sha256}\0{release.stand_in}\0".encode())
    if release.stand_in:
        digest.update(STAND_IN_STUB.read_bytes())
    for patch in series_patch_files(release):
        digest.update(hashlib.sha256(patch.read_bytes()).digest())
    folder = cache_dir() / "series"
    bundle = folder / f"{release.series}-{digest.hexdigest()[:16]}.bundle"
    checksum = bundle.with_name(bundle.name + ".sha256")
    if bundle.is_file():
        expected = checksum.read_text().strip() if checksum.is_file() else None
        if expected == sha256_of(bundle):
            return bundle
        progress(
            f"The cached series bundle {bundle} is damaged (its sha256 is not the one "
            f"in {checksum.name}): building it again."
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise CommandError(
            f"the series cache {folder} cannot be written ({error.strerror})",
            "point PATCHSET_CACHE at a writable folder, or unset it",
        ) from None
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        with silenced_progress():  # the fork is ours, its steps are not the user's
            base = materialize_fork(Path(scratch) / "series", release)
        partial = Path(scratch) / "series.bundle"
        run_git(["bundle", "create", "-q", str(partial), patched_branch(release)], base)
        partial_checksum = Path(scratch) / "series.bundle.sha256"
        partial_checksum.write_text(sha256_of(partial) + "\n")
        # Each replace is atomic; a concurrent apply that reads the new checksum with
        # the old bundle (or the reverse) builds its own and replaces both.
        os.replace(partial_checksum, checksum)
        os.replace(partial, bundle)
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
        progress(f"Fetching the files the series was made against ({self.release.base_name})...")
        bundle = series_bundle(self.release)
        self.fetched = True  # from here on remove() has a ref to delete
        branch = patched_branch(self.release)
        run_git(
            [
                "fetch",
                "-q",
                "--no-tags",
                "--no-write-fetch-head",
                str(bundle),
                f"+refs/heads/{branch}:{BLOBS_REF}",
            ],
            self.checkout,
        )

    def remove(self):
        """Delete the private ref; a failure is reported, never raised, so that it
        cannot hide the error that ended the run."""
        if not self.fetched:
            return
        try:
            run_git(["update-ref", "-d", BLOBS_REF], self.checkout)
        except GitError as error:
            progress(
                f"warning: {BLOBS_REF} could not be deleted ({error.output}); delete it "
                f"with `{git_command(self.checkout, 'update-ref', '-d', BLOBS_REF)}`"
            )


def am_with_blobs(checkout, release, patches, run):
    """`git am -3` of patches, the blobs fetched; a stop is an CommandError that
    says why and what to do."""
    progress(f"Applying {len(patches)} patch(es) of series {release.series} with `git am -3`...")
    run.am_started = True
    try:
        run_git(["am", "-3", "--keep-non-patch", *map(str, patches)], checkout)
    except GitError as error:
        if not am_in_progress(checkout):
            changed = "" if head_commit(checkout) == run.head else " and moved HEAD"
            raise CommandError(
                f"`git am` failed in {checkout}{changed} (its output is above)",
                "fix what it names, then run apply again",
                tool_output=error.output,
            ) from None
        what, next_step = why_am_stopped(checkout)
        raise CommandError(
            f"a patch of series {release.series} did not apply: {what}; {checkout} is "
            "stopped in git am",
            next_step,
            tool_output=error.output,
        ) from None
