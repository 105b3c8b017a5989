"""Finding Python interpreters: the one resolver every command uses."""

import glob
import os
import shutil
import subprocess
from pathlib import Path

from patchkit.core.errors import CommandError
from patchkit.core.process import run_process


def python_version_of(executable):
    """Return "X.Y" for a working interpreter, or None (e.g. a pyenv shim that
    has no version selected)."""
    try:
        completed = run_process(
            [executable, "-c", "import sys; sys.stdout.write('%d.%d' % sys.version_info[:2])"],
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None


def pyenv_root():
    if os.environ.get("PYENV_ROOT"):
        return Path(os.environ["PYENV_ROOT"])
    try:
        completed = run_process(["pyenv", "root"], timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return Path.home() / ".pyenv"
    if completed.returncode == 0 and completed.stdout.strip():
        return Path(completed.stdout.strip())
    return Path.home() / ".pyenv"


def patch_level(interpreter_path):
    """Sort key: the newest X.Y.Z of pyenv's versions/X.Y.Z/bin/python first."""
    name = Path(interpreter_path).parent.parent.name
    return tuple(int(part) if part.isdigit() else -1 for part in name.split("."))


def find_python(version):
    """Path of a working Python X.Y: `pythonX.Y` on PATH, then pyenv's versions."""
    candidates = []
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(on_path)
    pattern = str(pyenv_root() / "versions" / f"{version}.*" / "bin" / "python")
    candidates.extend(sorted(glob.glob(pattern), key=patch_level, reverse=True))
    for candidate in candidates:
        if python_version_of(candidate) == version:
            return candidate
    return None


def first_available_python(release):
    for version in release.pythons:
        found = find_python(version)
        if found:
            return found
    raise CommandError(
        f"no Python {' or '.join(release.pythons)} found for series {release.series}",
        f"install one (e.g. `pyenv install {release.pythons[0]}`) or pass --python",
    )


def is_interpreter_path(python):
    return "/" in str(python)


def selected_pythons(release, requested):
    """The Pythons to test a release with: the manifest's, or those requested that
    the manifest lists (paths to interpreters are taken as given)."""
    if not requested:
        return list(release.pythons)
    return [p for p in requested if is_interpreter_path(p) or p in release.pythons]


def check_python(release, python):
    """Refuse, before anything is touched, an X.Y the series is not tested on."""
    if python and not is_interpreter_path(python) and python not in release.pythons:
        raise CommandError.usage(
            f"series {release.series} is tested on Python {', '.join(release.pythons)}, "
            f"not {python}",
            f"pass one of them with --python, e.g. --python {release.pythons[0]}",
        )


def base_interpreter(release, python=None):
    """The interpreter to build a series' virtualenv from: pyenv's or PATH's Python
    X.Y, or the series' first available Python when none is asked for."""
    if python is None:
        return first_available_python(release)
    check_python(release, python)
    found = find_python(python)
    if found is None:
        raise CommandError(
            f"no Python {python} found for series {release.series}",
            f"install it (`pyenv install {python}`) or pass --python for another one",
        )
    return found
