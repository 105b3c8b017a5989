"""The fork: a release imported as a commit, the patch series on a branch, and the
git work around it (materialize, apply to a user's fork, export, compare)."""

import ast
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

from gitcmd import ISOLATED_CONFIG, GitError, run_git
from releases import OperationError, UsageError, project_dir
from sdist import fetch_sdist, unpack_sdist

IMPORT_NAME = "Django sdist import"
IMPORT_EMAIL = "sdist-import@localhost"
IMPORT_DATE = "2000-01-01T00:00:00+0000"
CONFIG_SECTION = "patchset"
REGRESSION_LABEL = "async_callable_regression"
REVERTED_TREE = "patchset-reverted"  # inside the fork's .git, gone with the fork

COMMITTER_ENV = {
    **ISOLATED_CONFIG,
    "GIT_COMMITTER_NAME": IMPORT_NAME,
    "GIT_COMMITTER_EMAIL": IMPORT_EMAIL,
}
IMPORT_ENV = {
    **COMMITTER_ENV,
    "GIT_AUTHOR_NAME": IMPORT_NAME,
    "GIT_AUTHOR_EMAIL": IMPORT_EMAIL,
    "GIT_AUTHOR_DATE": IMPORT_DATE,
    "GIT_COMMITTER_DATE": IMPORT_DATE,
}


def upstream_tag(release):
    return f"upstream/{release.version}"


def patched_branch(release):
    return f"patched/{release.series}"


def reverted_branch(release):
    return f"reverted/{release.series}"


def patches_dir(release):
    return project_dir() / "patches" / release.series


def regression_dir():
    return project_dir() / "tests_regression"


def series_patch_files(release):
    folder = patches_dir(release)
    return sorted(folder.glob("*.patch")) if folder.is_dir() else []


def git(args, repo):
    """git in one of our own forks: user configuration cannot change its results."""
    return run_git(args, repo, env=ISOLATED_CONFIG)


# Import and materialize -------------------------------------------------------


def import_release(repo, release, sdist_path):
    """Commit the sdist's content as one reproducible commit tagged upstream/<v>
    (without touching the work tree) and return the commit id."""
    tag = upstream_tag(release)
    try:
        return git(["rev-parse", "--verify", "-q", f"refs/tags/{tag}^{{commit}}"], repo).strip()
    except GitError:
        pass
    print(f"Importing Django {release.version} as a commit...", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        tree_dir = unpack_sdist(sdist_path, Path(scratch) / "tree")
        index_env = {**IMPORT_ENV, "GIT_INDEX_FILE": str(Path(scratch) / "index")}
        # -f: the sdist's own ignore rules, if any, must not drop released files.
        run_git(["--work-tree", str(tree_dir), "add", "-A", "-f", "."], repo, index_env)
        tree = run_git(["write-tree"], repo, index_env).strip()
    message = f"Imported Django {release.version} from its PyPI sdist.\n\nsha256: {release.sha256}\n"
    commit = run_git(["commit-tree", tree], repo, IMPORT_ENV, input=message).strip()
    git(["tag", tag, commit], repo)
    return commit


def apply_series(repo, release):
    """git am the series onto the checked-out branch with a fixed committer, so the
    same patches always give the same commit ids."""
    patch_files = series_patch_files(release)
    if not patch_files:
        return
    print(f"Applying {len(patch_files)} patch(es) of series {release.series}...", flush=True)
    args = ["am", "--keep-non-patch", "--committer-date-is-author-date"]
    try:
        run_git([*args, *map(str, patch_files)], repo, COMMITTER_ENV)
    except GitError as error:
        raise OperationError(
            f"the series {release.series} does not apply to Django {release.version}:\n"
            f"{error.output}",
            f"fix the patch in {patches_dir(release)} (see `git -C {repo} am --show-current-patch`)",
        ) from None


def is_generated_fork(path):
    """True if path is a git repo this tool made (it records its series there)."""
    git_dir = Path(path) / ".git"
    if not git_dir.is_dir():
        return False
    try:
        run_git(
            ["--git-dir", str(git_dir), "config", "--local", "--get", f"{CONFIG_SECTION}.series"],
            path,
            ISOLATED_CONFIG,
        )
    except GitError:
        return False
    return True


def remove_generated_fork(dest):
    dest = Path(dest)
    if not dest.exists() and not dest.is_symlink():
        return
    if dest.is_dir() and not dest.is_symlink() and not any(dest.iterdir()):
        dest.rmdir()
        return
    if not is_generated_fork(dest):
        raise OperationError(
            f"refusing to replace {dest}: it is not a fork made by patchset.py "
            f"(no {CONFIG_SECTION}.series in its git config)",
            "move it away or pass another --dest",
        )
    shutil.rmtree(dest)


def link_regression_app(tree, git_dir=None):
    """Make tests_regression/ a Django test app of the tree, invisible to git status."""
    source = regression_dir()
    if not source.is_dir():
        return
    link = Path(tree) / "tests" / REGRESSION_LABEL
    if not link.is_symlink():
        link.symlink_to(source.resolve(), target_is_directory=True)
    if git_dir is not None:
        exclude = Path(git_dir) / "info" / "exclude"
        exclude.parent.mkdir(parents=True, exist_ok=True)
        lines = exclude.read_text().splitlines() if exclude.exists() else []
        entry = f"/tests/{REGRESSION_LABEL}"
        if entry not in lines:
            exclude.write_text("\n".join([*lines, entry]) + "\n")


def materialize_fork(dest, release):
    """Build dest as a fresh git repo: upstream/<v> tag + patched/<series> branch."""
    dest = Path(dest).absolute()
    sdist_path = fetch_sdist(release)
    remove_generated_fork(dest)
    dest.mkdir(parents=True)
    git(["init", "-q", "--initial-branch", patched_branch(release)], dest)
    commit = import_release(dest, release, sdist_path)
    print(f"Checking out {upstream_tag(release)} ({commit[:12]}) in {dest}...", flush=True)
    git(["reset", "-q", "--hard", commit], dest)
    apply_series(dest, release)
    git(["config", "--local", f"{CONFIG_SECTION}.series", release.series], dest)
    git(["config", "--local", f"{CONFIG_SECTION}.version", release.version], dest)
    link_regression_app(dest, dest / ".git")
    head = git(["rev-parse", "HEAD"], dest).strip()
    print(f"Fork ready: {dest} on {patched_branch(release)} at {head[:12]}", flush=True)
    return dest


# The pristine ("reverted") tree ----------------------------------------------


def reverted_tree_path(fork):
    return Path(fork) / ".git" / REVERTED_TREE


def build_reverted_tree(fork, release):
    """A tree with the patched tests/ but django/ exactly as released; the pristine
    run uses it so both runs execute the same test code."""
    fork = Path(fork)
    patched_top = git(["ls-tree", "HEAD"], fork).splitlines()
    upstream_django = git(["rev-parse", f"{upstream_tag(release)}:django"], fork).strip()
    entries = []
    for line in patched_top:
        info, name = line.split("\t", 1)
        if name == "django":
            mode, kind, _ = info.split()
            info = f"{mode} {kind} {upstream_django}"
        entries.append(f"{info}\t{name}")
    tree = run_git(["mktree"], fork, ISOLATED_CONFIG, input="\n".join(entries) + "\n").strip()
    message = f"Reverted django/ to {release.version} for the pristine test run.\n"
    commit = run_git(["commit-tree", tree, "-p", "HEAD"], fork, IMPORT_ENV, input=message).strip()
    git(["branch", "-f", reverted_branch(release), commit], fork)
    target = reverted_tree_path(fork)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir()
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "tree.tar"
        git(["archive", "--format=tar", "-o", str(archive), commit], fork)
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(target, filter="data")
            else:
                tar.extractall(target)
    link_regression_app(target)
    return target


# New tests: found with ast, never by running them ------------------------------


def defined_test_ids(module, source):
    """module.Class.method for every test* method, including those a class inherits
    from classes defined in the same module."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}

    def methods(name, seen=()):
        node = classes.get(name)
        if node is None or name in seen:
            return set()
        found = {
            item.name
            for item in node.body
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
            and item.name.startswith("test")
        }
        for base in node.bases:
            if isinstance(base, ast.Name):
                found |= methods(base.id, (*seen, name))
        return found

    return {f"{module}.{name}.{method}" for name in classes for method in methods(name)}


def module_name(relative_path):
    parts = list(Path(relative_path).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def new_test_ids(fork, release):
    """Test ids defined in the patched tests/ but not in the release's tests/."""
    fork = Path(fork)
    changed = git(
        ["diff", "--name-only", "--diff-filter=AM", upstream_tag(release), "HEAD", "--", "tests"],
        fork,
    ).split()
    new = set()
    for path in changed:
        if not path.endswith(".py"):
            continue
        module = module_name(Path(path).relative_to("tests"))
        patched = defined_test_ids(module, (fork / path).read_text())
        try:
            released_source = git(["show", f"{upstream_tag(release)}:{path}"], fork)
        except GitError:
            released_source = ""
        new |= patched - defined_test_ids(module, released_source)
    if regression_dir().is_dir():
        for path in sorted(regression_dir().rglob("*.py")):
            relative = Path(REGRESSION_LABEL) / path.relative_to(regression_dir())
            new |= defined_test_ids(module_name(relative), path.read_text())
    return new


# Applying the series to a user's own fork ------------------------------------


def django_version_of(checkout):
    """The (major, minor) of VERSION in django/__init__.py, read without importing."""
    source = (Path(checkout) / "django" / "__init__.py").read_text()
    for node in ast.parse(source).body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "VERSION" for t in node.targets)
            and isinstance(node.value, ast.Tuple)
        ):
            major, minor = (ast.literal_eval(element) for element in node.value.elts[:2])
            return major, minor
    return None


def operation_in_progress(checkout):
    """'am' or 'rebase' when git is paused in one of them, else None."""
    def git_path(name):
        path = Path(run_git(["rev-parse", "--git-path", name], checkout).strip())
        return path if path.is_absolute() else Path(checkout) / path

    rebase_apply = git_path("rebase-apply")
    if rebase_apply.is_dir():
        return "am" if (rebase_apply / "applying").exists() else "rebase"
    if git_path("rebase-merge").is_dir():
        return "rebase"
    return None


def patch_ids(diff_text, checkout):
    output = run_git(["patch-id", "--stable"], checkout, ISOLATED_CONFIG, input=diff_text)
    return [line.split()[0] for line in output.splitlines() if line.strip()]


RECENT_COMMITS_CHECKED = 1000


def paths_in_patches(patch_files):
    paths = set()
    for patch in patch_files:
        for line in patch.read_text(errors="surrogateescape").splitlines():
            if line.startswith("diff --git a/"):
                old, new = line[len("diff --git a/"):].split(" b/", 1)
                paths.update((old, new))
    return sorted(paths)


def applied_patch_ids(checkout, patch_files):
    """Patch ids of the recent commits on HEAD that touch the series' files (read
    with default diff settings, the ones our patch files were written with)."""
    log = run_git(
        ["log", "-p", "--no-merges", "--no-color", f"--max-count={RECENT_COMMITS_CHECKED}",
         "HEAD", "--", *paths_in_patches(patch_files)],
        checkout,
        ISOLATED_CONFIG,
    )
    return set(patch_ids(log, checkout))


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
    if detected not in manifest.releases:
        raise OperationError(
            f"Django {detected} (from {checkout / 'django' / '__init__.py'}) has no patch series",
            f"the series are {', '.join(manifest.releases)}; pass --series to pick one",
        )
    return manifest.releases[detected]


def apply_to_user_fork(checkout, manifest, series=None):
    """git am -3 the series onto the checked-out branch of the user's Django clone,
    with the user's own git configuration; return the exit status."""
    checkout = Path(checkout).absolute()
    if not checkout.is_dir():
        raise UsageError(f"{checkout} is not a directory", "pass the top folder of your Django git clone")
    check_django_checkout(checkout)
    check_ready_to_apply(checkout)
    release = series_for_checkout(checkout, manifest, series)
    patch_files = series_patch_files(release)
    if not patch_files:
        print(f"Series {release.series} has no patches: nothing to apply.")
        return 0
    present = applied_patch_ids(checkout, patch_files)
    missing = [
        patch
        for patch in patch_files
        if patch_ids(patch.read_text(errors="surrogateescape"), checkout)[0] not in present
    ]
    if not missing:
        print(f"Series {release.series} is already applied in {checkout}: nothing to do.")
        return 0
    for patch in patch_files:
        if patch not in missing:
            print(f"Already applied: {patch.name}")
    print(f"Applying {len(missing)} patch(es) of series {release.series} with `git am -3`...")
    try:
        run_git(["am", "-3", "--keep-non-patch", *map(str, missing)], checkout)
    except GitError as error:
        if operation_in_progress(checkout) != "am":
            raise
        print(error.output, file=sys.stderr)
        raise OperationError(
            f"a patch of series {release.series} did not apply cleanly; {checkout} is "
            "stopped in git am",
            f"resolve the conflicts, `git -C {checkout} add` the files, then "
            f"`git -C {checkout} am --continue`; or undo everything with "
            f"`git -C {checkout} am --abort`",
        ) from None
    for patch in missing:
        print(f"Applied: {patch.name}")
    print(f"Series {release.series} applied in {checkout}.")
    return 0


# Export and compare ----------------------------------------------------------


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
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("[0-9][0-9][0-9][0-9]-*.patch"):
        old.unlink()
    revisions = f"{upstream_tag(release)}..{patched_branch(release)}"
    written = git(
        ["format-patch", "--zero-commit", "--no-signature", "-N", "-o", str(target), revisions],
        fork,
    ).split()
    for path in written:
        print(f"Wrote {path}")
    print(f"Exported {len(written)} patch(es) of series {release.series} to {target}.")
    if git(["status", "--porcelain", "--untracked-files=no"], fork).strip():
        print(f"Note: {fork} has uncommitted changes; only commits are exported.")
    return 0


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
    if fork is not None and has_ref(fork, f"refs/heads/{branch}") and has_ref(fork, f"refs/tags/{tag}"):
        git(["fetch", "-q", "--no-tags", str(fork),
             f"refs/heads/{branch}:refs/heads/{branch}", f"refs/tags/{tag}:refs/tags/{tag}"], repo)
        return
    commit = import_release(repo, release, fetch_sdist(release))
    git(["checkout", "-q", "-f", "-B", branch, commit], repo)
    apply_series(repo, release)


def compare_series(release_a, release_b, fork=None):
    """Print `git range-diff` between two series, each on its own release."""
    with tempfile.TemporaryDirectory() as scratch:
        repo = Path(scratch)
        git(["init", "-q"], repo)
        for release in (release_a, release_b):
            add_series_to_repo(repo, release, fork)
        ranges = [
            f"{upstream_tag(r)}..{patched_branch(r)}" for r in (release_a, release_b)
        ]
        output = git(["range-diff", "--no-color", *ranges], repo)
    if output.strip():
        print(output, end="")
    else:
        print(f"Series {release_a.series} and {release_b.series} both have no patches.")
    return 0
