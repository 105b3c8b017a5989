"""The fork: a release imported as a commit, the patch series on a branch, and the
git work around it (materialize, apply to a user's fork, export, compare)."""

import ast
import os
import shutil
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


def test_ids_in_source(module, source):
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
        patched = test_ids_in_source(module, (fork / path).read_text())
        try:
            released_source = git(["show", f"{upstream_tag(release)}:{path}"], fork)
        except GitError:
            released_source = ""
        new |= patched - test_ids_in_source(module, released_source)
    if regression_dir().is_dir():
        for path in sorted(regression_dir().rglob("*.py")):
            relative = Path(REGRESSION_LABEL) / path.relative_to(regression_dir())
            new |= test_ids_in_source(module_name(relative), path.read_text())
    return new
