"""Which of a series' patches a repository already has, judged by content (the
patches' changes reverse-apply to HEAD, or a commit of the repository holds them),
never by commit ids; and which paths the patches change or create."""

import tempfile
from pathlib import Path

from patchkit.core.git import ISOLATED_CONFIG, GitError, run_git


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
        self.taken_out = {}  # index file -> commits whose changes unapply() took out
        self.reworked_as = {}  # patch -> the user's commit that holds it, changed

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
        taken_out = self.taken_out.setdefault(env["GIT_INDEX_FILE"], set())
        for commit in self.reworked(patch):
            if commit in taken_out:
                return True  # squashed with a later patch, whose commit is out already
            diff = run_git(
                ["diff-tree", "-p", "--binary", "--full-index", "--no-commit-id", commit],
                self.checkout,
                ISOLATED_CONFIG,
            )
            if diff and self.reverse_applies([], env, diff):
                taken_out.add(commit)
                self.reworked_as[patch] = commit
                return True
        return False

    def reworked(self, patch):
        """The commits of HEAD's recent history that hold patch as the user changed
        it (amended, reworded or squashed): they add at least half of the lines it
        adds, in the files it changes."""
        wanted = added_lines(patch.read_text(errors="surrogateescape"))
        if not wanted:
            return []
        log = run_git(
            [
                "--literal-pathspecs",
                "log",
                "-n",
                "100",
                "--no-merges",
                "--no-show-signature",
                "--no-color",
                "--no-ext-diff",
                "-p",
                "--format=%x00%H",
                "--",
                *changed_paths(self.checkout, [patch]),
            ],
            self.checkout,
            ISOLATED_CONFIG,
        )
        found = []
        for entry in log.split("\0")[1:]:
            commit, _, diff = entry.partition("\n")
            if 2 * len(wanted & added_lines(diff)) >= len(wanted):
                found.append(commit)
        return found


def added_lines(diff):
    """The lines a diff adds, stripped, blank ones left out (a commit message
    before the first `diff --git` is not read)."""
    lines, in_diff = set(), False
    for line in diff.splitlines():
        if line.startswith("diff --git "):
            in_diff = True
        elif in_diff and line.startswith("+") and not line.startswith("+++ "):
            if line[1:].strip():
                lines.add(line[1:].strip())
    return lines


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
    for that 3-way check (it is called only when a check needs it).

    A patch the user changed after applying it (an amended, reworded or squashed
    commit) counts as applied when a recent commit adds at least half of its lines
    and that commit's changes reverse-apply in its place. Returns the count and,
    for such patches, {patch: commit}."""
    with tempfile.TemporaryDirectory() as scratch:
        judge = AppliedJudge(checkout, scratch, fetch_blobs)
        for count in range(len(patch_files), 0, -1):
            env = judge.env(count)
            run_git(["read-tree", "HEAD"], checkout, env)
            judge.reworked_as.clear()
            if all(judge.unapply(patch, env) for patch in reversed(patch_files[:count])):
                return count, dict(judge.reworked_as)
    return 0, {}


def changed_paths(checkout, patch_files):
    """Every path the patches change, create, delete or rename (both names), from
    `git apply --numstat -z`."""
    paths = []
    for patch in patch_files:
        fields = run_git(["apply", "--numstat", "-z", str(patch)], checkout, ISOLATED_CONFIG)
        fields = iter(fields.split("\0"))
        for counts in fields:
            if not counts:
                break
            path = counts.split("\t", 2)[2]
            for name in [path] if path else [next(fields), next(fields)]:
                if name not in paths:
                    paths.append(name)
    return paths


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
