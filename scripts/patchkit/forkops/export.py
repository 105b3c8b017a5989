"""`export`: patches/<series>/ regenerated from a fork's patched branch."""

import shutil
import tempfile
from pathlib import Path

from patchkit.core.errors import OperationError
from patchkit.core.fork import (
    CONFIG_SECTION,
    git,
    is_generated_fork,
    operation_in_progress,
    patched_branch,
    patches_dir,
    upstream_tag,
)


def fork_series(fork):
    if not is_generated_fork(fork):
        raise OperationError(
            f"{fork} is not a fork made by patchset.py",
            "run `python3 scripts/patchset.py materialize` first",
        )
    return git(["config", "--local", "--get", f"{CONFIG_SECTION}.series"], fork).strip()


def export_series(fork, manifest, series=None):
    """Regenerate patches/<series>/ from upstream/<v>..patched/<series>."""
    fork = Path(fork).absolute()
    release = manifest.release(series or fork_series(fork))
    if series and fork_series(fork) != series:
        raise OperationError(
            f"{fork} holds series {fork_series(fork)}, not {series}",
            f"pass the fork of series {series} with --fork",
        )
    if operation_in_progress(fork):
        raise OperationError(
            f"a `git am` or rebase is in progress in {fork}",
            f"finish it (`git -C {fork} am --continue`) or drop it, then export again",
        )
    target = patches_dir(release)
    revisions = f"{upstream_tag(release)}..{patched_branch(release)}"
    # Write the new files first: a failing format-patch leaves the old ones alone.
    with tempfile.TemporaryDirectory() as scratch:
        fresh = git(
            ["format-patch", "--zero-commit", "--no-signature", "-N", "-o", scratch, revisions],
            fork,
        ).split()
        target.mkdir(parents=True, exist_ok=True)
        for old in target.glob("[0-9][0-9][0-9][0-9]-*.patch"):
            old.unlink()
        written = [shutil.move(path, target / Path(path).name) for path in fresh]
    for path in written:
        print(f"Wrote {path}")
    print(f"Exported {len(written)} patch(es) of series {release.series} to {target}.")
    if git(["status", "--porcelain", "--untracked-files=no"], fork).strip():
        print(f"Note: {fork} has uncommitted changes; only commits are exported.")
    return 0
