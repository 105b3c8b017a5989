"""The fork: a release imported as a commit, the patch series on a branch, and the
git work around it (materialize, apply to a user's fork, export, compare)."""

import ast
import fcntl
import os
import re
import shutil
import tarfile
import tempfile
from contextlib import contextmanager
from pathlib import Path

from patchkit.core.errors import CommandError
from patchkit.core.git import ISOLATED_CONFIG, GitError, run_git
from patchkit.core.manifest import SCRIPTS_DIR, cache_dir, project_dir
from patchkit.core.report import progress
from patchkit.core.repostate import operation_in_progress as operation_state
from patchkit.core.sdists import fetch_sdist, unpack_sdist

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


def release_tag(release):
    return f"upstream/{release.version}"


def upstream_tag(release):
    """The commit the series is built on: the release, or the main stand-in."""
    return "upstream/main" if release.stand_in else release_tag(release)


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
    """Give repo the release as one reproducible commit tagged upstream/<v> (and, for
    the main series, the stand-in on top of it, tagged upstream/main), without
    touching its work tree; return the commit the series is built on.

    Importing (unpacking and hashing some 6,000 files) is the slow part of making a
    fork, and every check makes forks of its own: each release is imported once, into
    a bare repository of the cache, and packed; a fork gets that pack as a hard link
    (a copy across file systems) and the tags. Packs never change once written, so a
    fork keeps working when the cache is cleared."""
    shared = cache_dir() / "imports" / f"{release.display_name}-{release.version}.git"
    with exclusive_lock(shared.with_suffix(".lock")):
        if not (shared / "HEAD").exists():
            shared.mkdir(parents=True, exist_ok=True)
            git(["init", "-q", "--bare"], shared)
            git(["config", "--local", "gc.auto", "0"], shared)
        imported = existing_tag(shared, upstream_tag(release)) is not None
        commit = import_sdist(shared, release, sdist_path)
        if release.stand_in:
            commit = commit_stand_in(shared, release, commit)
        if not imported:
            git(["repack", "-d", "-q"], shared)  # the new loose objects into one pack
        link_packs(shared / "objects" / "pack", git_objects(repo) / "pack")
    for tag in {release_tag(release), upstream_tag(release)}:
        git(["update-ref", f"refs/tags/{tag}", existing_tag(shared, tag)], repo)
    return commit


@contextmanager
def exclusive_lock(path):
    """Hold an flock on path (made if missing) while the block runs; other runs
    wait. The kernel releases it if this one dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def git_objects(repo):
    return Path(repo, git(["rev-parse", "--git-path", "objects"], repo).strip())


def link_packs(source, target):
    """Every pack of source into target, each index after its pack (git reads a pack
    once its index is there), through a temporary name so no half-copied file is
    ever seen."""
    target.mkdir(parents=True, exist_ok=True)
    packs = sorted(source.glob("pack-*.pack"))
    others = sorted(p for p in source.glob("pack-*") if p.suffix not in (".pack", ".idx"))
    for path in [*packs, *others, *(p.with_suffix(".idx") for p in packs)]:
        destination = target / path.name
        if destination.exists():
            continue
        temporary = target / f"tmp-{os.getpid()}-{path.name}"
        try:
            os.link(path, temporary)
        except OSError:  # another file system, or links not allowed
            shutil.copy2(path, temporary)
        os.replace(temporary, destination)


def existing_tag(repo, tag):
    try:
        return git(["rev-parse", "--verify", "-q", f"refs/tags/{tag}^{{commit}}"], repo).strip()
    except GitError:
        return None


def tagged_commit(repo, tag, announce, fill_index, message, parents=()):
    """The commit tagged tag: made once, from an index that fill_index(index_env)
    fills, with the fixed import identity, so its id is the same on every machine."""
    commit = existing_tag(repo, tag)
    if commit:
        return commit
    progress(announce)
    with tempfile.TemporaryDirectory() as scratch:
        index_env = {**IMPORT_ENV, "GIT_INDEX_FILE": str(Path(scratch) / "index")}
        fill_index(index_env, Path(scratch))
        tree = run_git(["write-tree"], repo, index_env).strip()
    parent_args = [arg for parent in parents for arg in ("-p", parent)]
    commit = run_git(["commit-tree", tree, *parent_args], repo, IMPORT_ENV, input=message).strip()
    git(["tag", tag, commit], repo)
    return commit


def import_sdist(repo, release, sdist_path):
    def fill_index(index_env, scratch):
        tree_dir = unpack_sdist(sdist_path, scratch / "tree")
        # -f: the sdist's own ignore rules, if any, must not drop released files.
        run_git(["--work-tree", str(tree_dir), "add", "-A", "-f", "."], repo, index_env)

    return tagged_commit(
        repo,
        release_tag(release),
        f"Importing {release.display_name} {release.version} as a commit...",
        fill_index,
        f"Imported {release.display_name} {release.version} from its PyPI sdist.\n\n"
        f"sha256: {release.sha256}\n",
    )


# Django's main branch cannot be fetched here. The stand-in is what main looks like
# when a feature cycle starts (docs/internals/howto-release-django.txt, "A few days
# before a feature freeze"): the release plus the commit that bumps VERSION and adds
# the stub release notes of the next feature release.
STAND_IN_STUB = SCRIPTS_DIR / "standin" / "release-notes-stub.txt"


def stand_in_files(release, read):
    """{path: new content} of the stand-in commit; read(path) gives the release's."""
    major, minor = release.stand_in.split(".")
    previous = ".".join(release.version.split(".")[:2])
    version_line = f'VERSION = ({major}, {minor}, 0, "alpha", 0)'
    init = re.sub(
        r"^VERSION = \(.*\)$", version_line, read("django/__init__.py"), count=1, flags=re.M
    )
    conf = read("docs/conf.py")
    conf = re.sub(
        r'^version = ".*"$', f'version = "{release.stand_in}"', conf, count=1, flags=re.M
    )
    conf = re.sub(
        r'^django_next_version = ".*"$',
        f'django_next_version = "{release.stand_in}"',
        conf,
        count=1,
        flags=re.M,
    )
    index = read("docs/releases/index.txt")
    heading = f"{previous} release\n"
    section = (
        f"{release.stand_in} release\n{'-' * len(release.stand_in + ' release')}\n"
        f".. toctree::\n   :maxdepth: 1\n\n   {release.stand_in}\n\n"
    )
    index = index.replace(heading, section + heading, 1)
    stub = (
        STAND_IN_STUB.read_text()
        .replace("{version}", release.stand_in)
        .replace("{previous}", previous)
    )
    files = {
        "django/__init__.py": init,
        "docs/conf.py": conf,
        "docs/releases/index.txt": index,
        f"docs/releases/{release.stand_in}.txt": stub,
    }
    unchanged = [
        path
        for path, text in files.items()
        if path != f"docs/releases/{release.stand_in}.txt" and text == read(path)
    ]
    if unchanged:
        raise CommandError(
            f"the stand-in for main could not edit {', '.join(unchanged)} of Django "
            f"{release.version}: the release does not look as fork.py expects",
            "update stand_in_files() in scripts/patchkit/core/fork.py for this release",
        )
    return files


def commit_stand_in(repo, release, parent):
    def fill_index(index_env, scratch):
        run_git(["read-tree", parent], repo, index_env)
        files = stand_in_files(release, lambda path: git(["show", f"{parent}:{path}"], repo))
        for path, content in files.items():
            blob = run_git(
                ["hash-object", "-w", "--stdin"], repo, ISOLATED_CONFIG, input=content
            ).strip()
            run_git(
                ["update-index", "--add", "--cacheinfo", f"100644,{blob},{path}"], repo, index_env
            )

    return tagged_commit(
        repo,
        upstream_tag(release),
        f"Making the main stand-in: {release.stand_in} pre-alpha on {release.version}...",
        fill_index,
        f"Bumped version; main is now {release.stand_in} pre-alpha.\n\n"
        f"Stand-in for Django's main branch: Django {release.version} plus the "
        f"start of the\n{release.stand_in} cycle, made by patchset.py.\n",
        parents=[parent],
    )


def apply_series(repo, release):
    """git am the series onto the checked-out branch with a fixed committer, so the
    same patches always give the same commit ids."""
    patch_files = series_patch_files(release)
    if not patch_files:
        return
    progress(f"Applying {len(patch_files)} patch(es) of series {release.series}...")
    args = ["am", "--keep-non-patch", "--committer-date-is-author-date"]
    try:
        run_git([*args, *map(str, patch_files)], repo, COMMITTER_ENV)
    except GitError as error:
        raise CommandError(
            f"the series {release.series} does not apply to {release.base_name}:\n{error.output}",
            f"fix the patch in {patches_dir(release)} "
            f"(see `git -C {repo} am --show-current-patch`)",
        ) from None


def fork_config(path, key):
    """A value of the fork's own git config section, or None."""
    git_dir = Path(path) / ".git"
    if not git_dir.is_dir():
        return None
    try:
        return run_git(
            ["--git-dir", str(git_dir), "config", "--local", "--get", f"{CONFIG_SECTION}.{key}"],
            path,
            ISOLATED_CONFIG,
        ).strip()
    except GitError:
        return None


def is_generated_fork(path):
    """True if path is a git repo this tool made (it records its series there)."""
    return fork_config(path, "series") is not None


# What pip, Django's tests and its docs build leave in a tree: not the user's work.
GENERATED_FILES = re.compile(r"^\?\? (.*(__pycache__/|\.py[co]$|\.egg-info/)|docs/_build/)")


def unexported_work(fork):
    """What the user did in a fork of ours that the patch files don't hold: commits
    after the one materialize made, or changes in the working tree."""
    made = fork_config(fork, "head")
    head = git(["rev-parse", "HEAD"], fork).strip()
    found = []
    if made and head != made:
        found.append(f"commits after {made[:12]} (HEAD is {head[:12]})")
    changes = [
        line
        for line in git(["status", "--porcelain"], fork).splitlines()
        if not GENERATED_FILES.search(line)
    ]
    if changes:
        found.append("uncommitted changes")
    return found


def remove_generated_fork(dest):
    dest = Path(dest)
    if not dest.exists() and not dest.is_symlink():
        return
    if dest.is_dir() and not dest.is_symlink() and not any(dest.iterdir()):
        dest.rmdir()
        return
    if fork_config(dest, "building") is not None:
        # Left half-built by an interrupted or failed materialize: ours to replace.
        shutil.rmtree(dest)
        return
    if not is_generated_fork(dest):
        raise CommandError(
            f"refusing to replace {dest}: it is not a fork made by patchset.py "
            f"(no {CONFIG_SECTION}.series in its git config)",
            "move it away or pass another --dest",
        )
    work = unexported_work(dest)
    if work:
        raise CommandError(
            f"refusing to replace {dest}: it has {' and '.join(work)}, which are not in "
            "the patch files",
            f"export them (`python3 scripts/patchset.py export --fork {dest}`) or move "
            "the folder away, then run the command again",
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
    # No background gc: a detached `gc --auto` still writing into .git/objects makes
    # removing a scratch fork (apply's, compare's) fail.
    git(["config", "--local", "gc.auto", "0"], dest)
    git(["config", "--local", f"{CONFIG_SECTION}.building", "true"], dest)
    commit = import_release(dest, release, sdist_path)
    progress(f"Checking out {upstream_tag(release)} ({commit[:12]}) in {dest}...")
    git(["reset", "-q", "--hard", commit], dest)
    apply_series(dest, release)
    git(["config", "--local", f"{CONFIG_SECTION}.series", release.series], dest)
    git(["config", "--local", f"{CONFIG_SECTION}.version", release.version], dest)
    if release.package == "django":
        link_regression_app(dest, dest / ".git")
    head = git(["rev-parse", "HEAD"], dest).strip()
    git(["config", "--local", f"{CONFIG_SECTION}.head", head], dest)
    git(["config", "--local", "--unset", f"{CONFIG_SECTION}.building"], dest)
    progress(f"Fork ready: {dest} on {patched_branch(release)} at {head[:12]}")
    return dest


# The pristine ("reverted") tree ----------------------------------------------


def reverted_tree_path(fork):
    return Path(fork) / ".git" / REVERTED_TREE


def build_reverted_tree(fork, release):
    """A tree with the patched tests/ but django/ (asgiref/ for asgiref) exactly as
    released; the pristine run uses it so both runs execute the same test code."""
    target = reverted_tree_path(fork)
    commit = tree_with_django_from(
        fork,
        "HEAD",
        upstream_tag(release),
        f"Reverted {release.source_dir}/ to {release.version} for the pristine test run.\n",
        folder=release.source_dir,
    )
    git(["branch", "-f", reverted_branch(release), commit], fork)
    extract_commit(fork, commit, target, link_regression=release.package == "django")
    return target


def tree_with_django_from(fork, commit, django_from, message, folder="django"):
    """A commit whose tree is commit's, except folder (django/), which is
    django_from's."""
    fork = Path(fork)
    top = git(["ls-tree", commit], fork).splitlines()
    django_tree = git(["rev-parse", f"{django_from}:{folder}"], fork).strip()
    entries = []
    for line in top:
        info, name = line.split("\t", 1)
        if name == folder:
            mode, kind, _ = info.split()
            info = f"{mode} {kind} {django_tree}"
        entries.append(f"{info}\t{name}")
    tree = run_git(["mktree"], fork, ISOLATED_CONFIG, input="\n".join(entries) + "\n").strip()
    return run_git(["commit-tree", tree, "-p", commit], fork, IMPORT_ENV, input=message).strip()


def extract_commit(fork, commit, target, link_regression=True):
    """commit's files in target (replaced), with the regression app linked in
    unless told otherwise."""
    target = Path(target)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "tree.tar"
        git(["archive", "--format=tar", "-o", str(archive), commit], fork)
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(target, filter="data")
            else:
                tar.extractall(target)
    if link_regression:
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


def new_test_ids(fork, release, base=None, head="HEAD", regression=True):
    """Test ids defined in head's tests/ but not in base's (default: the release's),
    plus tests_regression/'s."""
    fork = Path(fork)
    base = base or upstream_tag(release)
    changed = git(
        ["diff", "--name-only", "--diff-filter=AM", base, head, "--", "tests"], fork
    ).split()
    new = set()
    for path in changed:
        if not path.endswith(".py"):
            continue
        module = module_name(Path(path).relative_to("tests"))
        patched = defined_test_ids(module, git(["show", f"{head}:{path}"], fork))
        try:
            released_source = git(["show", f"{base}:{path}"], fork)
        except GitError:
            released_source = ""
        new |= patched - defined_test_ids(module, released_source)
    if regression and regression_dir().is_dir():
        for path in sorted(regression_dir().rglob("*.py")):
            relative = Path(REGRESSION_LABEL) / path.relative_to(regression_dir())
            new |= defined_test_ids(module_name(relative), path.read_text())
    return new


SUBJECT_TOPICS = {"handlers": {"middleware", "views"}, "signals": {"signals"}}


def series_topics(release):
    """What the series' patches cover, from their subjects."""
    topics = set()
    for patch in series_patch_files(release):
        subject = next(
            (line for line in patch.read_text().splitlines() if line.startswith("Subject:")), ""
        )
        for word, covered in SUBJECT_TOPICS.items():
            if f"Made {word} detect" in subject:
                topics |= covered
    return topics


def operation_in_progress(checkout):
    """The name of the git operation checkout is paused in ('am', 'rebase', 'merge',
    ...), or None."""
    state = operation_state(checkout)
    return state and state[0]
