"""The pinned releases manifest, series lookup and finding Python interpreters."""

import dataclasses
import glob
import json
import os
import shutil
import subprocess
from pathlib import Path

SCRIPTS_DIR = Path(__file__).resolve().parent
PROJECT_DIR = SCRIPTS_DIR.parent


class UsageError(Exception):
    """Bad input from the user: exit status 2."""

    def __init__(self, message, next_step):
        super().__init__(message)
        self.next_step = next_step


class OperationError(Exception):
    """The operation failed: exit status 1."""

    def __init__(self, message, next_step):
        super().__init__(message)
        self.next_step = next_step


@dataclasses.dataclass(frozen=True)
class Release:
    series: str
    version: str
    sha256: str
    pythons: tuple
    # The main series: the next feature version whose cycle the stand-in for
    # Django's main branch starts on top of the release (see fork.py).
    stand_in: str = None

    @property
    def base_name(self):
        """What the series is built on, for messages."""
        if self.stand_in:
            return f"the main stand-in ({self.stand_in} pre-alpha on {self.version})"
        return f"Django {self.version}"


@dataclasses.dataclass(frozen=True)
class Manifest:
    default_series: str
    releases: dict
    labels: tuple
    # New tests that pin a behaviour the series keeps: they pass on both trees.
    pinned_tests: tuple = ()

    @property
    def main_release(self):
        """The series for Django's main branch, which the others backport (the
        default series in a manifest without a stand-in)."""
        return next((r for r in self.releases.values() if r.stand_in), self.release())

    def release(self, series=None):
        series = series or self.default_series
        try:
            return self.releases[series]
        except KeyError:
            raise UsageError(
                f"unknown series {series!r}",
                f"use one of: {', '.join(self.releases)}",
            ) from None


def manifest_path():
    # Tests point this at a fake manifest so they need no network.
    return Path(os.environ.get("PATCHSET_MANIFEST", SCRIPTS_DIR / "releases.json"))


def project_dir():
    """The folder holding patches/ and tests_regression/."""
    return Path(os.environ.get("PATCHSET_PROJECT", PROJECT_DIR))


def cache_dir():
    default = Path.home() / ".cache" / "django-async-call"
    return Path(os.environ.get("PATCHSET_CACHE", default))


def load_manifest(path=None):
    data = json.loads(Path(path or manifest_path()).read_text())
    releases = {
        series: Release(
            series=series,
            version=entry["version"],
            sha256=entry["sha256"],
            pythons=tuple(entry["pythons"]),
            stand_in=entry.get("stand_in"),
        )
        for series, entry in data["series"].items()
    }
    return Manifest(data["default_series"], releases, tuple(data["labels"]),
                    tuple(data.get("pinned_tests", ())))


def python_version_of(executable):
    """Return "X.Y" for a working interpreter, or None (e.g. a pyenv shim that
    has no version selected)."""
    try:
        completed = subprocess.run(
            [executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None


def pyenv_root():
    if os.environ.get("PYENV_ROOT"):
        return Path(os.environ["PYENV_ROOT"])
    try:
        completed = subprocess.run(
            ["pyenv", "root"], capture_output=True, text=True, timeout=60
        )
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
    raise OperationError(
        f"no Python {' or '.join(release.pythons)} found for series {release.series}",
        "install one (e.g. `pyenv install "
        f"{release.pythons[0]}`) or pass --python",
    )
