"""`compare`: git range-diff between two series, each on its own release."""

import tempfile
from pathlib import Path

from patchkit.core.fork import apply_series, git, import_release, patched_branch, upstream_tag
from patchkit.core.git import GitError
from patchkit.core.report import Outcome
from patchkit.core.sdists import fetch_sdist


def has_ref(repo, ref):
    try:
        git(["rev-parse", "--verify", "-q", ref], repo)
    except GitError:
        return False
    return True


def add_series_to_repo(repo, release, fork=None):
    """Give repo the upstream tag and patched branch of release: from fork when it has
    them (so unexported edits are compared), else by importing and applying."""
    tag, branch = upstream_tag(release), patched_branch(release)
    if (
        fork is not None
        and has_ref(fork, f"refs/heads/{branch}")
        and has_ref(fork, f"refs/tags/{tag}")
    ):
        git(
            [
                "fetch",
                "-q",
                "--no-tags",
                str(fork),
                f"refs/heads/{branch}:refs/heads/{branch}",
                f"refs/tags/{tag}:refs/tags/{tag}",
            ],
            repo,
        )
        return
    commit = import_release(repo, release, fetch_sdist(release))
    git(["checkout", "-q", "-f", "-B", branch, commit], repo)
    apply_series(repo, release)


def compare_series(release_a, release_b, fork=None):
    """Print `git range-diff` between two series, each on its own release."""
    with tempfile.TemporaryDirectory() as scratch:
        repo = Path(scratch)
        git(["init", "-q"], repo)
        git(["config", "--local", "gc.auto", "0"], repo)
        for release in (release_a, release_b):
            add_series_to_repo(repo, release, fork)
        ranges = [f"{upstream_tag(r)}..{patched_branch(r)}" for r in (release_a, release_b)]
        subjects = [git(["log", "--reverse", "--format=%s", r], repo).splitlines() for r in ranges]
        # git 2.39's range-diff refuses an empty range ("need two commit ranges").
        output = git(["range-diff", "--no-color", *ranges], repo) if all(subjects) else ""
    if output.strip():
        return Outcome(True, output.rstrip("\n").splitlines(), verdict=False)
    lines = []
    for release, commits in zip((release_a, release_b), subjects):
        lines.append(f"Series {release.series}: {len(commits)} patch(es)")
        for subject in commits:
            lines.append(f"  {subject}")
    return Outcome(True, lines, verdict=False)
