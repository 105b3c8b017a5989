"""Where a command's forks, virtualenvs and logs live, and prepare(): the one way a
command gets a series' trees and an interpreter with the fork installed."""

import dataclasses
import tempfile
from pathlib import Path

from patchkit.core.errors import CommandError
from patchkit.core.fork import (
    build_reverted_tree,
    extract_commit,
    git,
    materialize_fork,
    upstream_tag,
)
from patchkit.core.interpreters import (
    base_interpreter,
    check_python,
    is_interpreter_path,
    python_version_of,
)
from patchkit.core.manifest import project_dir
from patchkit.core.process import run_process
from patchkit.core.report import progress
from patchkit.core.venvs import DJANGO_TEST_REQUIREMENTS, create_venv, install_fork, run_checked


@dataclasses.dataclass(frozen=True)
class Workspace:
    """A folder of forks, virtualenvs and logs. The project's own checkout keeps the
    names the README gives (django_fork/, .venv for the default series); any other
    folder has a fork per series and a virtualenv per series and Python."""

    root: Path
    default_series: str = None
    # asgiref's pinned release: its series (patches/asgiref/) replaces the released
    # asgiref in the workspace's interpreters, in virtualenvs of their own. None:
    # the asgiref that installing Django brings.
    asgiref: object = None

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root).absolute())

    @property
    def is_project(self):
        return self.root.resolve() == project_dir().resolve()

    def fork(self, release):
        if self.is_project and release.package == "django":
            return self.root / "django_fork"
        return self.root / f"fork-{release.series}"

    def venv(self, name, version):
        """name: a series, or a package's name for its own environment."""
        if self.asgiref:
            name = f"{name}-asgiref-series"
        if self.is_project:
            return self.root / (".venv" if name == self.default_series else f".venv-{name}")
        return self.root / f"venv-{name}-py{version}"

    def log(self, name):
        return self.root / ".logs" / f"{name}.log"


@dataclasses.dataclass(frozen=True)
class Trees:
    release: object
    fork: Path  # the patched branch checked out
    reverted: Path  # django/ as released, the series' tests/ (None if not asked for)


def prepare_trees(release, workspace, reverted=True):
    fork = materialize_fork(workspace.fork(release), release)
    if reverted:
        progress("Building the reverted tree (django/ as released, patched tests/)...")
    return Trees(release, fork, build_reverted_tree(fork, release) if reverted else None)


def fork_interpreter(
    release, workspace, fork, python=None, name=None, requirements=DJANGO_TEST_REQUIREMENTS
):
    """An interpreter with the fork installed: python itself when it is a path, else
    a virtualenv (named for name, by default the series) of Python X.Y or of the
    series' first available Python."""
    if python and is_interpreter_path(python):
        chosen = str(python)
    else:
        base = base_interpreter(release, python)
        venv = workspace.venv(name or release.series, python_version_of(base))
        chosen = str(create_venv(base, venv).absolute())
    install_fork(chosen, fork, requirements)
    if workspace.asgiref:
        install_asgiref_series(chosen, workspace)
    return chosen


def install_asgiref_series(interpreter, workspace):
    """Replace interpreter's asgiref with the asgiref series, built from a copy of
    its fork (a build in the fork would leave files there), and check that the
    installed modules are the series' own."""
    release = workspace.asgiref
    version = python_version_of(interpreter)
    if version not in release.pythons:
        raise CommandError(
            f"asgiref {release.version} does not run on Python {version} "
            f"(it supports {', '.join(release.pythons)})",
            "run the asgiref series with one of those Pythons",
        )
    fork = materialize_fork(workspace.fork(release), release)
    changed = git(
        ["diff", "--name-only", upstream_tag(release), "HEAD", "--", release.source_dir], fork
    ).split()
    progress(f"Installing the asgiref series ({fork}) into {interpreter}...")
    with tempfile.TemporaryDirectory() as scratch:
        source = extract_commit(fork, "HEAD", Path(scratch) / "asgiref", link_regression=False)
        run_checked(
            [
                interpreter,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                "--force-reinstall",
                str(source),
            ],
            "installing the asgiref series",
            "check the pip output above",
        )
    for path in changed:
        module = path.removesuffix(".py").replace("/", ".")
        installed = run_process(
            [interpreter, "-c", f"import sys, {module}; sys.stdout.write({module}.__file__)"],
            check=False,
        ).stdout.strip()
        if not installed or Path(installed).read_bytes() != (fork / path).read_bytes():
            raise CommandError(
                f"{interpreter} imports {module} from {installed or 'nowhere'}, "
                "not the asgiref series'",
                "remove that virtualenv and run the command again",
            )


def prepare(release, workspace, python=None, reverted=True):
    """(trees, interpreter) of one series and one Python; the Python is checked
    before the fork is touched."""
    check_python(release, python)
    trees = prepare_trees(release, workspace, reverted)
    return trees, fork_interpreter(release, workspace, trees.fork, python)
