"""The pinned releases manifest (scripts/releases.json), series lookup and the
project's folders."""

import dataclasses
import json
import os
from pathlib import Path

from patchkit.core.errors import CommandError

SCRIPTS_DIR = Path(__file__).resolve().parents[2]
PAYLOADS_DIR = SCRIPTS_DIR / "payloads"
PROJECT_DIR = SCRIPTS_DIR.parent


@dataclasses.dataclass(frozen=True)
class Release:
    series: str
    version: str
    sha256: str
    pythons: tuple
    # The main series: the next feature version whose cycle the stand-in for
    # Django's main branch starts on top of the release (see fork.py).
    stand_in: str = None
    # The PyPI distribution: Django, or a companion whose series the project also
    # carries (asgiref, patches/asgiref/).
    package: str = "django"

    @property
    def display_name(self):
        return "Django" if self.package == "django" else self.package

    @property
    def source_dir(self):
        """The package's folder in the sdist: what a pristine tree reverts."""
        return self.package

    @property
    def base_name(self):
        """What the series is built on, for messages."""
        if self.stand_in:
            return f"the main stand-in ({self.stand_in} pre-alpha on {self.version})"
        return f"{self.display_name} {self.version}"


@dataclasses.dataclass(frozen=True)
class Manifest:
    default_series: str
    releases: dict
    labels: tuple
    # New tests that pin a behaviour the series keeps: they pass on both trees.
    pinned_tests: tuple = ()
    # asgiref's pinned release, which patches/asgiref/ applies to (None if absent).
    asgiref: Release = None
    # New Django tests whose outcome depends on the asgiref installed: they pin
    # released asgiref's behaviour, and the asgiref series changes it.
    asgiref_dependent_tests: tuple = ()
    # LEDGER.md limitations that asgiref causes: gone with the asgiref series.
    asgiref_removes_limitations: tuple = ()

    @property
    def main_release(self):
        """The series for Django's main branch, which the others backport (the
        default series in a manifest without a stand-in)."""
        return next((r for r in self.releases.values() if r.stand_in), self.release())

    def package_release(self, series=None):
        """A Django series, or "asgiref" for asgiref's pinned release (fetch and
        materialize take either)."""
        if series == "asgiref" and self.asgiref is not None:
            return self.asgiref
        return self.release(series)

    def release(self, series=None):
        series = series or self.default_series
        try:
            return self.releases[series]
        except KeyError:
            raise CommandError.usage(
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
    companion = data.get("asgiref")
    asgiref = (
        Release(
            series="asgiref",
            version=companion["version"],
            sha256=companion["sha256"],
            pythons=tuple(companion["pythons"]),
            package="asgiref",
        )
        if companion
        else None
    )
    return Manifest(
        data["default_series"],
        releases,
        tuple(data["labels"]),
        tuple(data.get("pinned_tests", ())),
        asgiref,
        tuple(companion.get("dependent_tests", ())) if companion else (),
        tuple(companion.get("removes_limitations", ())) if companion else (),
    )
