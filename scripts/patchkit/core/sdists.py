"""Fetching a release's sdist with pip, verifying its sha256, unpacking it."""

import hashlib
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

from patchkit.core.errors import CommandError
from patchkit.core.interpreters import find_python
from patchkit.core.manifest import cache_dir
from patchkit.core.process import run_process
from patchkit.core.report import progress


def sdist_cache_dir():
    return cache_dir() / "sdists"


def cached_sdist_path(release):
    return sdist_cache_dir() / f"{release.package}-{release.version}.tar.gz"


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_sdist(release, target_dir):
    """Download <package>==<version>'s sdist into target_dir with pip, by name."""
    # pip refuses a release whose Requires-Python excludes the running Python
    # (6.x needs 3.12+), so use one of the series' own interpreters when we have it.
    python = next((found for v in release.pythons if (found := find_python(v))), None)
    command = [python or sys.executable, "-m", "pip", "download", "--no-deps"]
    command += ["--no-binary", ":all:", "--dest", str(target_dir)]
    if python is None:
        command += ["--python-version", release.pythons[0], "--only-binary=:none:"]
    command.append(f"{release.package}=={release.version}")
    progress(f"Downloading the sdist of {release.base_name} with pip...")
    completed = run_process(command, check=False)
    downloaded = sorted(Path(target_dir).glob("*.tar.gz"))
    if completed.returncode != 0 or len(downloaded) != 1:
        raise CommandError(
            f"pip could not download {release.display_name} {release.version}'s sdist:\n"
            + (completed.stdout + completed.stderr).strip(),
            "check that PyPI is reachable (pip config list) and retry",
        )
    return downloaded[0]


def verify_sdist(path, release):
    actual = sha256_of(path)
    if actual != release.sha256:
        Path(path).unlink()
        raise CommandError(
            f"checksum mismatch for {Path(path).name}: expected sha256 "
            f"{release.sha256}, got {actual}; the file was removed from the cache",
            f"run `python3 scripts/patchset.py fetch --series {release.series}` "
            "to download it again",
        )


def fetch_sdist(release):
    """Return the path of the verified sdist in the cache, downloading it if needed."""
    cached = cached_sdist_path(release)
    if not cached.exists():
        try:
            sdist_cache_dir().mkdir(parents=True, exist_ok=True)
            # A probe of its own: fetches running side by side must not race.
            with tempfile.TemporaryFile(dir=sdist_cache_dir()):
                pass
        except OSError as error:
            raise CommandError(
                f"the sdist cache {sdist_cache_dir()} cannot be written ({error.strerror})",
                "point PATCHSET_CACHE at a writable folder, or unset it",
            ) from None
        with tempfile.TemporaryDirectory(dir=sdist_cache_dir()) as scratch:
            downloaded = download_sdist(release, scratch)
            verify_sdist(downloaded, release)
            shutil.move(str(downloaded), cached)
        progress(f"Saved {cached}")
        return cached
    verify_sdist(cached, release)
    return cached


def unpack_sdist(sdist_path, dest):
    """Unpack the sdist's single top folder's content into dest (which must not
    exist), leaving out the `*.egg-info/` folder that the build added."""
    dest = Path(dest)
    with tempfile.TemporaryDirectory(dir=dest.parent) as scratch:
        with tarfile.open(sdist_path) as archive:
            if hasattr(tarfile, "data_filter"):
                archive.extractall(scratch, filter="data")
            else:  # Python < 3.10.12 has no extraction filters
                archive.extractall(scratch)
        tops = list(Path(scratch).iterdir())
        if len(tops) != 1 or not tops[0].is_dir():
            raise CommandError(
                f"{sdist_path} does not hold exactly one top folder",
                "remove it from the cache and fetch again",
            )
        for egg_info in tops[0].glob("*.egg-info"):
            shutil.rmtree(egg_info)
        tops[0].rename(dest)
    return dest
