"""The fork: a release imported as a commit, the patch series on a branch, and the
git work around it (materialize, apply to a user's fork, export, compare)."""

import ast
import contextlib
import io
import re
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

from gitcmd import ISOLATED_CONFIG, GitError, run_git
from releases import SCRIPTS_DIR, OperationError, UsageError, project_dir
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
    """Commit the sdist's content as one reproducible commit tagged upstream/<v>
    (without touching the work tree) and return the commit id; for the main series,
    the stand-in commit on top of it."""
    commit = import_sdist(repo, release, sdist_path)
    if release.stand_in:
        commit = commit_stand_in(repo, release, commit)
    return commit


def existing_tag(repo, tag):
    try:
        return git(["rev-parse", "--verify", "-q", f"refs/tags/{tag}^{{commit}}"], repo).strip()
    except GitError:
        return None


def import_sdist(repo, release, sdist_path):
    tag = release_tag(release)
    commit = existing_tag(repo, tag)
    if commit:
        return commit
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


# Django's main branch cannot be fetched here. The stand-in is what main looks like
# when a feature cycle starts (docs/internals/howto-release-django.txt, "A few days
# before a feature freeze"): the release plus the commit that bumps VERSION and adds
# the stub release notes of the next feature release.
STAND_IN_STUB = SCRIPTS_DIR / "standin" / "release-notes-stub.txt"


def stand_in_files(release, read):
    """{path: new content} of the stand-in commit; read(path) gives the release's."""
    major, minor = release.stand_in.split(".")
    previous = ".".join(release.version.split(".")[:2])
    version_line = f"VERSION = ({major}, {minor}, 0, \"alpha\", 0)"
    init = re.sub(r"^VERSION = \(.*\)$", version_line, read("django/__init__.py"),
                  count=1, flags=re.M)
    conf = read("docs/conf.py")
    conf = re.sub(r'^version = ".*"$', f'version = "{release.stand_in}"', conf, count=1, flags=re.M)
    conf = re.sub(r'^django_next_version = ".*"$', f'django_next_version = "{release.stand_in}"',
                  conf, count=1, flags=re.M)
    index = read("docs/releases/index.txt")
    heading = f"{previous} release\n"
    section = (f"{release.stand_in} release\n{'-' * len(release.stand_in + ' release')}\n"
               f".. toctree::\n   :maxdepth: 1\n\n   {release.stand_in}\n\n")
    index = index.replace(heading, section + heading, 1)
    stub = STAND_IN_STUB.read_text().replace("{version}", release.stand_in).replace(
        "{previous}", previous)
    files = {
        "django/__init__.py": init,
        "docs/conf.py": conf,
        "docs/releases/index.txt": index,
        f"docs/releases/{release.stand_in}.txt": stub,
    }
    unchanged = [path for path, text in files.items()
                 if path != f"docs/releases/{release.stand_in}.txt" and text == read(path)]
    if unchanged:
        raise OperationError(
            f"the stand-in for main could not edit {', '.join(unchanged)} of Django "
            f"{release.version}: the release does not look as fork.py expects",
            "update stand_in_files() in scripts/fork.py for this release")
    return files


def commit_stand_in(repo, release, parent):
    tag = upstream_tag(release)
    commit = existing_tag(repo, tag)
    if commit:
        return commit
    print(f"Making the main stand-in: {release.stand_in} pre-alpha on {release.version}...",
          flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        index_env = {**IMPORT_ENV, "GIT_INDEX_FILE": str(Path(scratch) / "index")}
        run_git(["read-tree", parent], repo, index_env)
        files = stand_in_files(release, lambda path: git(["show", f"{parent}:{path}"], repo))
        for path, content in files.items():
            blob = run_git(["hash-object", "-w", "--stdin"], repo, ISOLATED_CONFIG,
                           input=content).strip()
            run_git(["update-index", "--add", "--cacheinfo", f"100644,{blob},{path}"],
                    repo, index_env)
        tree = run_git(["write-tree"], repo, index_env).strip()
    message = (f"Bumped version; main is now {release.stand_in} pre-alpha.\n\n"
               f"Stand-in for Django's main branch: Django {release.version} plus the "
               f"start of the\n{release.stand_in} cycle, made by patchset.py.\n")
    commit = run_git(["commit-tree", tree, "-p", parent], repo, IMPORT_ENV,
                     input=message).strip()
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
            f"the series {release.series} does not apply to {release.base_name}:\n"
            f"{error.output}",
            f"fix the patch in {patches_dir(release)} (see `git -C {repo} am --show-current-patch`)",
        ) from None


def fork_config(path, key):
    """A value of the fork's own git config section, or None."""
    git_dir = Path(path) / ".git"
    if not git_dir.is_dir():
        return None
    try:
        return run_git(["--git-dir", str(git_dir), "config", "--local", "--get",
                        f"{CONFIG_SECTION}.{key}"], path, ISOLATED_CONFIG).strip()
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
    changes = [line for line in git(["status", "--porcelain"], fork).splitlines()
               if not GENERATED_FILES.search(line)]
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
        raise OperationError(
            f"refusing to replace {dest}: it is not a fork made by patchset.py "
            f"(no {CONFIG_SECTION}.series in its git config)",
            "move it away or pass another --dest",
        )
    work = unexported_work(dest)
    if work:
        raise OperationError(
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
    git(["config", "--local", f"{CONFIG_SECTION}.building", "true"], dest)
    commit = import_release(dest, release, sdist_path)
    print(f"Checking out {upstream_tag(release)} ({commit[:12]}) in {dest}...", flush=True)
    git(["reset", "-q", "--hard", commit], dest)
    apply_series(dest, release)
    git(["config", "--local", f"{CONFIG_SECTION}.series", release.series], dest)
    git(["config", "--local", f"{CONFIG_SECTION}.version", release.version], dest)
    link_regression_app(dest, dest / ".git")
    head = git(["rev-parse", "HEAD"], dest).strip()
    git(["config", "--local", f"{CONFIG_SECTION}.head", head], dest)
    git(["config", "--local", "--unset", f"{CONFIG_SECTION}.building"], dest)
    print(f"Fork ready: {dest} on {patched_branch(release)} at {head[:12]}", flush=True)
    return dest


# The pristine ("reverted") tree ----------------------------------------------


def reverted_tree_path(fork):
    return Path(fork) / ".git" / REVERTED_TREE


def build_reverted_tree(fork, release):
    """A tree with the patched tests/ but django/ exactly as released; the pristine
    run uses it so both runs execute the same test code."""
    target = reverted_tree_path(fork)
    commit = tree_with_django_from(fork, "HEAD", upstream_tag(release),
                                   f"Reverted django/ to {release.version} for the pristine test run.\n")
    git(["branch", "-f", reverted_branch(release), commit], fork)
    extract_commit(fork, commit, target)
    return target


def tree_with_django_from(fork, commit, django_from, message):
    """A commit whose tree is commit's, except django/, which is django_from's."""
    fork = Path(fork)
    top = git(["ls-tree", commit], fork).splitlines()
    django_tree = git(["rev-parse", f"{django_from}:django"], fork).strip()
    entries = []
    for line in top:
        info, name = line.split("\t", 1)
        if name == "django":
            mode, kind, _ = info.split()
            info = f"{mode} {kind} {django_tree}"
        entries.append(f"{info}\t{name}")
    tree = run_git(["mktree"], fork, ISOLATED_CONFIG, input="\n".join(entries) + "\n").strip()
    return run_git(["commit-tree", tree, "-p", commit], fork, IMPORT_ENV, input=message).strip()


def extract_commit(fork, commit, target):
    """commit's files in target (replaced), with the regression app linked in."""
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
    changed = git(["diff", "--name-only", "--diff-filter=AM", base, head, "--", "tests"],
                  fork).split()
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


# Applying the series to a user's own fork ------------------------------------


def django_version_of(checkout):
    """The (major, minor) of VERSION in django/__init__.py, read without importing."""
    init = Path(checkout) / "django" / "__init__.py"
    try:
        body = ast.parse(init.read_text()).body
    except SyntaxError as error:
        raise OperationError(f"{init} is not valid Python (line {error.lineno}): its "
                             "VERSION cannot be read",
                             "fix the file, or pass --series explicitly") from None
    for node in body:
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
    resolve = (f"`git -C {checkout} add` the files, then `git -C {checkout} am --continue`; "
               f"or undo everything with `git -C {checkout} am --abort`")
    if "would be overwritten" in output or "already exists in working directory" in output:
        return ("an untracked file is in the way of a file the patch creates",
                f"undo with `git -C {checkout} am --abort`, move the file away, and run apply "
                "again")
    if "gpg" in output.lower() or "signing" in output.lower():
        return ("git could not sign the commit (commit.gpgsign is set)",
                f"undo with `git -C {checkout} am --abort`, fix signing or run apply with "
                "signing off for this repository, then run apply again")
    conflicted = run_git(["diff", "--name-only", "--diff-filter=U"], checkout).split()
    if conflicted:
        return (f"the patch conflicts with your branch in {', '.join(conflicted)}",
                f"resolve the conflict markers in those files, {resolve}")
    return ("git am stopped", f"read git's output above, then {resolve}")


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
    try:
        detected = django_version_of(checkout)
    except OperationError:
        detected = None  # --series was given: the version is only for a warning
    detected = detected and f"{detected[0]}.{detected[1]}"
    if series and detected and detected not in (release.series, release.stand_in):
        print(f"Warning: your checkout is Django {detected}; applying series "
              f"{release.series} as asked.")
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
            "move it away (or commit its removal), then run apply again")
    version = full_version_of(checkout)
    if version and version != release.version and not release.stand_in:
        print(f"The series was made on Django {release.version}; your checkout is "
              f"{version}: git am -3 merges the differences.")
    apply_with_blobs(checkout, release, missing)
    for patch in missing:
        print(f"Applied: {patch.name}")
    print(f"Series {release.series} applied in {checkout}.")
    return 0


def apply_with_blobs(checkout, release, patches):
    """`git am -3`, with the blobs the patches were made against fetched first into a
    private ref (removed afterwards), so that a fork of another point release, or one
    with its own edits, gets a 3-way merge instead of "could not build fake ancestor"."""
    print(f"Fetching the files the series was made against ({release.base_name})...",
          flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        with contextlib.redirect_stdout(io.StringIO()):
            base = materialize_fork(Path(scratch) / "series", release)
        run_git(["fetch", "-q", "--no-tags", str(base),
                 f"+refs/heads/{patched_branch(release)}:{BLOBS_REF}"], checkout)
    print(f"Applying {len(patches)} patch(es) of series {release.series} with "
          "`git am -3`...", flush=True)
    try:
        run_git(["am", "-3", "--keep-non-patch", *map(str, patches)], checkout)
    except GitError as error:
        if operation_in_progress(checkout) != "am":
            raise
        print(error.output, file=sys.stderr)
        what, next_step = why_am_stopped(error.output, checkout)
        raise OperationError(
            f"a patch of series {release.series} did not apply: {what}; {checkout} is "
            "stopped in git am", next_step) from None
    finally:
        run_git(["update-ref", "-d", BLOBS_REF], checkout)


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
    revisions = f"{upstream_tag(release)}..{patched_branch(release)}"
    # Write the new files first: a failing format-patch leaves the old ones alone.
    with tempfile.TemporaryDirectory() as scratch:
        fresh = git(["format-patch", "--zero-commit", "--no-signature", "-N", "-o", scratch,
                     revisions], fork).split()
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
