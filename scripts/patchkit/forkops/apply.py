"""`apply`: the series onto a user's own Django clone, with `git am -3` and the
blobs the patches were made against, never leaving a patch silently dropped."""

import ast
import contextlib
import io
import re
import sys
import tempfile
from pathlib import Path

from patchkit.core.errors import OperationError, UsageError
from patchkit.core.fork import (
    materialize_fork,
    operation_in_progress,
    patched_branch,
    series_patch_files,
)
from patchkit.core.git import ISOLATED_CONFIG, GitError, run_git


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


def applied_prefix(checkout, patch_files):
    """How many of the series' patches, from the first, are in HEAD: judged by the
    result (their changes reverse-apply to HEAD's tree in reverse order), so a series
    applied and then reverted counts as not applied."""
    with tempfile.TemporaryDirectory() as scratch:
        for count in range(len(patch_files), 0, -1):
            env = {**ISOLATED_CONFIG, "GIT_INDEX_FILE": str(Path(scratch) / f"index-{count}")}
            run_git(["read-tree", "HEAD"], checkout, env)
            try:
                for patch in reversed(patch_files[:count]):
                    run_git(["apply", "--cached", "--reverse", str(patch)], checkout, env)
            except GitError:
                continue
            return count
    return 0


def files_added_by(patch_files):
    added = []
    for patch in patch_files:
        lines = patch.read_text(errors="surrogateescape").splitlines()
        for number, line in enumerate(lines):
            if line.startswith("new file mode") and number > 0:
                added.append(lines[number - 1].split(" b/", 1)[1])
    return added


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
    if "gpg" in output.lower() or "signing" in output.lower():
        return (
            "git could not sign the commit (commit.gpgsign is set)",
            f"undo with `git -C {checkout} am --abort`, fix signing or run apply with "
            "signing off for this repository, then run apply again",
        )
    conflicted = run_git(["diff", "--name-only", "--diff-filter=U"], checkout).split()
    if conflicted:
        return (
            f"the patch conflicts with your branch in {', '.join(conflicted)}",
            f"resolve the conflict markers in those files, {resolve}",
        )
    return ("git am stopped", f"read git's output above, then {resolve}")


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
    done = applied_prefix(checkout, patch_files)
    if done == len(patch_files):
        print(f"Series {release.series} is already applied in {checkout}: nothing to do.")
        return 0
    missing = patch_files[done:]
    for patch in patch_files[:done]:
        print(f"Already applied: {patch.name}")
    in_the_way = [path for path in files_added_by(missing) if (checkout / path).exists()]
    if in_the_way:
        raise OperationError(
            f"the series creates {', '.join(in_the_way)}, which already exists in {checkout}",
            "move it away (or commit its removal), then run apply again",
        )
    version = full_version_of(checkout)
    if version and version != release.version and not release.stand_in:
        print(
            f"The series was made on Django {release.version}; your checkout is "
            f"{version}: git am -3 merges the differences."
        )
    apply_with_blobs(checkout, release, missing)
    for patch in missing:
        print(f"Applied: {patch.name}")
    print(f"Series {release.series} applied in {checkout}.")
    return 0


def apply_with_blobs(checkout, release, patches):
    """`git am -3`, with the blobs the patches were made against fetched first into a
    private ref (removed afterwards), so that a fork of another point release, or one
    with its own edits, gets a 3-way merge instead of "could not build fake ancestor"."""
    print(f"Fetching the files the series was made against ({release.base_name})...", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        with contextlib.redirect_stdout(io.StringIO()):
            base = materialize_fork(Path(scratch) / "series", release)
        run_git(
            [
                "fetch",
                "-q",
                "--no-tags",
                str(base),
                f"+refs/heads/{patched_branch(release)}:{BLOBS_REF}",
            ],
            checkout,
        )
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
    finally:
        run_git(["update-ref", "-d", BLOBS_REF], checkout)
