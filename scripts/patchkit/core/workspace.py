"""Where a command's forks, virtualenvs and logs live, and prepare(): the one way a
command gets a series' trees and an interpreter with the fork installed."""

import dataclasses
from pathlib import Path

from patchkit.core.fork import build_reverted_tree, materialize_fork
from patchkit.core.interpreters import (
    base_interpreter,
    check_python,
    is_interpreter_path,
    python_version_of,
)
from patchkit.core.manifest import project_dir
from patchkit.core.venvs import DJANGO_TEST_REQUIREMENTS, create_venv, install_fork


@dataclasses.dataclass(frozen=True)
class Workspace:
    """A folder of forks, virtualenvs and logs. The project's own checkout keeps the
    names the README gives (django_fork/, .venv for the default series); any other
    folder has a fork per series and a virtualenv per series and Python."""

    root: Path
    default_series: str = None

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root).absolute())

    @property
    def is_project(self):
        return self.root.resolve() == project_dir().resolve()

    def fork(self, release):
        return self.root / ("django_fork" if self.is_project else f"fork-{release.series}")

    def venv(self, name, version):
        """name: a series, or a package's name for its own environment."""
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
        print("Building the reverted tree (django/ as released, patched tests/)...", flush=True)
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
    return chosen


def prepare(release, workspace, python=None, reverted=True):
    """(trees, interpreter) of one series and one Python; the Python is checked
    before the fork is touched."""
    check_python(release, python)
    trees = prepare_trees(release, workspace, reverted)
    return trees, fork_interpreter(release, workspace, trees.fork, python)
