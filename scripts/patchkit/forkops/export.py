"""`export`: patches/<series>/ regenerated from a fork's patched branch."""

import os
import shutil
import tempfile
from pathlib import Path

from patchkit.core.errors import CommandError
from patchkit.core.fork import (
    CONFIG_SECTION,
    git,
    is_generated_fork,
    operation_in_progress,
    patched_branch,
    patches_dir,
    upstream_tag,
)
from patchkit.core.git import GitError
from patchkit.core.report import Outcome, progress

PATCH_FILES = "[0-9][0-9][0-9][0-9]-*.patch"


def fork_series(fork):
    if not is_generated_fork(fork):
        raise CommandError(
            f"{fork} is not a fork made by patchset.py",
            "run `python3 scripts/patchset.py materialize` first",
        )
    return git(["config", "--local", "--get", f"{CONFIG_SECTION}.series"], fork).strip()


def branch_to_export(fork, release, target):
    """The branch checked out in the fork, which export takes (it is where the user
    works, whatever its name); refused when it cannot be the series: HEAD detached,
    not built on the release, or no commits on it while the patch files hold some."""
    tag, series_branch = upstream_tag(release), patched_branch(release)
    check_out = f"check out the branch with the series (`git -C {fork} switch <branch>`)"
    try:
        branch = git(["symbolic-ref", "-q", "--short", "HEAD"], fork).strip()
    except GitError:
        raise CommandError(
            f"HEAD is detached in {fork}: export takes the commits of the branch checked out",
            f"{check_out}, then export again; patches/{release.series}/ is unchanged",
        ) from None
    try:
        git(["merge-base", "--is-ancestor", tag, branch], fork)
    except GitError:
        raise CommandError(
            f"branch {branch}, checked out in {fork}, is not built on {tag}",
            f"{check_out}, then export again; patches/{release.series}/ is unchanged",
        ) from None
    commits = int(git(["rev-list", "--count", "--no-merges", f"{tag}..{branch}"], fork))
    if not commits and any(target.glob(PATCH_FILES)):
        raise CommandError(
            f"branch {branch}, checked out in {fork}, has no commits after {tag}: "
            "exporting it would remove every patch file",
            f"{check_out}, then export again (or remove the files by hand); "
            f"patches/{release.series}/ is unchanged",
        )
    if branch != series_branch:
        progress(
            f"Exporting branch {branch}, the one checked out in {fork} "
            f"(materialize named the series' branch {series_branch})."
        )
    return branch


def replace_patch_files(target, fresh):
    """Put the files fresh (paths) in target, then remove target's other patch files:
    all are written under temporary names first, so a failure leaves the old set."""
    target.mkdir(parents=True, exist_ok=True)
    partials = {}
    try:
        for path in fresh:
            name = Path(path).name
            partials[name] = target / f".{name}.partial"
            shutil.copyfile(path, partials[name])
    except OSError as error:
        for partial in partials.values():
            partial.unlink(missing_ok=True)
        raise CommandError(
            f"could not write the new patch files in {target} ({error.strerror}); "
            "the old ones are unchanged",
            "make room or fix the folder's permissions, then export again",
        ) from None
    written = []
    for name, partial in partials.items():
        os.replace(partial, target / name)
        written.append(target / name)
    for old in target.glob(PATCH_FILES):
        if old.name not in partials:
            old.unlink()
    return written


def export_series(fork, manifest, series=None):
    """Regenerate patches/<series>/ from upstream/<v>..<the branch checked out>."""
    fork = Path(fork).absolute()
    release = manifest.package_release(series or fork_series(fork))
    if series and fork_series(fork) != series:
        raise CommandError(
            f"{fork} holds series {fork_series(fork)}, not {series}",
            f"pass the fork of series {series} with --fork",
        )
    if operation_in_progress(fork):
        raise CommandError(
            f"a `git am` or rebase is in progress in {fork}",
            f"finish it (`git -C {fork} am --continue`) or drop it, then export again",
        )
    target = patches_dir(release)
    branch = branch_to_export(fork, release, target)
    revisions = f"{upstream_tag(release)}..{branch}"
    # Write the new files first: a failing format-patch leaves the old ones alone.
    with tempfile.TemporaryDirectory() as scratch:
        fresh = git(
            ["format-patch", "--zero-commit", "--no-signature", "-N", "-o", scratch, revisions],
            fork,
        ).split()
        written = replace_patch_files(target, fresh)
    # The branch's commits are in the patch files now: rebuilding the fork loses
    # nothing, so materialize and setup may replace it.
    head = git(["rev-parse", branch], fork).strip()
    git(["config", "--local", f"{CONFIG_SECTION}.head", head], fork)
    lines = [f"Wrote {path}" for path in written]
    lines.append(f"Exported {len(written)} patch(es) of series {release.series} to {target}.")
    if git(["status", "--porcelain", "--untracked-files=no"], fork).strip():
        lines.append(f"Note: {fork} has uncommitted changes; only commits are exported.")
    return Outcome(True, lines, verdict=False)
