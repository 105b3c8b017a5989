"""Third-party packages' own test suites (from their PyPI sdists, pinned in
scripts/ecosystem.json) on the patched tree and on the pristine release, with one
interpreter: no test may fail patched that passes pristine."""

import json
import os
import tarfile
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from patchkit.core.errors import CommandError
from patchkit.core.interpreters import check_python, python_version_of
from patchkit.core.manifest import SCRIPTS_DIR
from patchkit.core.process import run_process
from patchkit.core.report import Outcome, progress
from patchkit.core.runtests import RUNNER_DIR, compare_outcomes, format_counts, outcome_counts
from patchkit.core.venvs import run_checked
from patchkit.core.workspace import fork_interpreter, prepare_trees

PACKAGES_FILE = SCRIPTS_DIR / "ecosystem.json"

# Runs the package's own script (args[0]) with every DiscoverRunner it makes a
# recording one; the outcomes of all its runs are merged into $PATCHSET_RESULTS.
RUNTESTS_WRAPPER = """
import json, os, runpy, sys
import django.test.runner
from patchset_recording import RecordingDiscoverRunner

path, merged = os.environ["PATCHSET_RESULTS"], {}


class MergingRunner(RecordingDiscoverRunner):
    def run_suite(self, suite, **kwargs):
        result = super().run_suite(suite, **kwargs)
        with open(path) as stream:
            merged.update(json.load(stream))
        with open(path, "w") as stream:
            json.dump(merged, stream, indent=0, sort_keys=True)
        return result


django.test.runner.DiscoverRunner = MergingRunner
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def load_packages(names=None):
    packages = json.loads(PACKAGES_FILE.read_text())
    unknown = sorted(set(names or ()) - set(packages))
    if unknown:
        raise CommandError.usage(
            f"unknown package(s): {', '.join(unknown)}",
            f"use some of: {', '.join(packages)} (see {PACKAGES_FILE.name})",
        )
    return {name: packages[name] for name in (names or packages)}


def fetch_package_sdist(python, name, version, dest):
    """Download and unpack name==version's sdist; return its top folder."""
    dest = Path(dest)
    downloads = dest / "sdists"
    downloads.mkdir(parents=True, exist_ok=True)
    progress(f"Downloading the sdist of {name} {version} with pip...")
    run_checked(
        [
            python,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--dest",
            str(downloads),
            f"{name}=={version}",
        ],
        f"downloading {name} {version}",
        "check that PyPI is reachable",
    )
    normalized = name.replace("-", "_").lower()
    archive = next(
        path
        for path in downloads.glob("*.tar.gz")
        if path.name.lower().replace("-", "_").startswith(f"{normalized}_{version}")
    )
    with tarfile.open(archive) as tar:
        top = tar.getnames()[0].split("/")[0]
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:
            tar.extractall(dest)
    return dest / top


def install_package(python, source, requirements):
    # --no-deps: its dependency on Django is the fork already installed.
    progress(f"Installing {source.name} and {', '.join(requirements) or 'no more'}...")
    run_checked(
        [python, "-m", "pip", "install", "-q", "--no-deps", str(source)],
        f"installing {source.name}",
        "read pip's output above",
    )
    if requirements:
        run_checked(
            [python, "-m", "pip", "install", "-q", *requirements],
            f"installing {source.name}'s test requirements",
            "read pip's output above",
        )


def junit_outcomes(path):
    """{test id: outcome} from pytest's --junitxml report."""
    outcomes = {}
    for case in ElementTree.parse(path).iter("testcase"):
        test_id = f"{case.get('classname')}.{case.get('name')}"
        children = {child.tag for child in case}
        if "error" in children:
            outcomes[test_id] = "error"
        elif "failure" in children:
            outcomes[test_id] = "fail"
        elif "skipped" in children:
            outcomes[test_id] = "skip"
        else:
            outcomes[test_id] = "pass"
    return outcomes


def django_imported_from(python, env, cwd):
    probe = run_process(
        [python, "-c", "import sys, django; sys.stdout.write(django.__file__)"],
        env=env,
        cwd=cwd,
        check=False,
    )
    return Path(probe.stdout.strip()).parent if probe.returncode == 0 else None


def run_package_tests(python, package, source, tree, import_from_tree):
    """Run the package's suite with Django from tree; return (status, outcomes)."""
    env = {**os.environ, **package["env"]}
    paths = [str(RUNNER_DIR)] + ([str(tree)] if import_from_tree else []) + [str(source)]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    imported = django_imported_from(python, env, source)
    if imported != Path(tree) / "django":
        raise CommandError(
            f"the tests would import Django from {imported}, not {tree}", "use a fresh --workdir"
        )
    with tempfile.TemporaryDirectory() as scratch:
        results = Path(scratch) / "results"
        env["PATCHSET_RESULTS"] = str(results)
        if package["runner"] == "django":
            command = [
                python,
                "-m",
                "django",
                "test",
                "--testrunner",
                "patchset_recording.RecordingDiscoverRunner",
                *package["args"],
            ]
        elif package["runner"] == "runtests":
            command = [python, "-c", RUNTESTS_WRAPPER, *package["args"]]
        else:
            # -o addopts=: the package's own (coverage, ruff, ...) are not ours to run.
            command = [
                python,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-o",
                "addopts=",
                f"--junitxml={results}",
                *package["args"],
            ]
        shown = [
            "<ecosystem.RUNTESTS_WRAPPER>" if part == RUNTESTS_WRAPPER else part
            for part in command
        ]
        progress(f"$ cd {source} && {' '.join(shown)}")
        completed = run_process(command, cwd=source, env=env, check=False)
        tail = (completed.stdout + completed.stderr).strip().splitlines()[-3:]
        progress("\n".join(f"  {line}" for line in tail))
        if not results.exists():
            raise CommandError(
                f"{source.name}'s tests recorded no results (exit status {completed.returncode})",
                f"run the command above by hand in {source}",
            )
        if package["runner"] in ("django", "runtests"):
            return completed.returncode, json.loads(results.read_text())
        return completed.returncode, junit_outcomes(results)


def run_one_package(venv_python, name, package, release, workspace, trees):
    """Install name into venv_python, run its suite on both trees; its summary entry."""
    source = fetch_package_sdist(
        venv_python, name, package["version"], workspace.root / "packages"
    )
    install_package(venv_python, source, package["test_requirements"])
    progress(f"{name}: patched tree...")
    patched_status, patched = run_package_tests(venv_python, package, source, trees.fork, False)
    progress(f"{name}: pristine {release.base_name}...")
    pristine_status, pristine = run_package_tests(
        venv_python, package, source, trees.reverted, True
    )
    comparison = compare_outcomes(set(), patched, pristine)
    return {
        "version": package["version"],
        "tests": len(patched),
        "pristine": outcome_counts(pristine),
        "patched": outcome_counts(patched),
        "status": {"pristine": pristine_status, "patched": patched_status},
        "differing": [
            {"test": t, "pristine": b, "patched": a} for t, b, a, _ in comparison.violations
        ],
        "new_failures": [
            t for t, _, after, _ in comparison.violations if after in ("fail", "error", "missing")
        ],
    }


def run_ecosystem(manifest, series, python, workspace, names):
    """Each package's suite patched and pristine; return the table as an Outcome."""
    release = manifest.release(series)
    packages = load_packages(names)
    check_python(release, python)
    trees = prepare_trees(release, workspace)
    summary = {
        "series": release.series,
        "version": release.version,
        "python": None,
        "packages": {},
    }
    for name, package in packages.items():
        try:
            venv_python = fork_interpreter(release, workspace, trees.fork, python, name)
            summary["python"] = python_version_of(venv_python)
            entry = run_one_package(venv_python, name, package, release, workspace, trees)
        except CommandError as error:
            if error.is_usage:  # bad input stops the command, as before
                raise
            # One package that cannot be installed or run is reported, not fatal:
            # the others' evidence still counts, and the verdict says it failed.
            progress(f"error: {name}: {error}\nnext step: {error.next_step}")
            entry = {
                "version": package["version"],
                "error": str(error).splitlines()[0],
                "next_step": error.next_step,
            }
        summary["packages"][name] = entry
    lines = [""]
    lines.append(
        f"Ecosystem: each package's own tests on series {release.series} vs "
        f"{release.base_name}, Python {summary['python']}"
    )
    for name, entry in summary["packages"].items():
        lines.append(f"  {name} {entry['version']}")
        if "error" in entry:
            lines.append(f"    not run: {entry['error']}")
            continue
        lines.append(f"    pristine: {format_counts(entry['pristine'])}")
        lines.append(f"    patched:  {format_counts(entry['patched'])}")
        lines.append(f"    outcomes that differ: {len(entry['differing'])}")
        for d in entry["differing"]:
            lines.append(f"      {d['test']}: pristine {d['pristine']}, patched {d['patched']}")
    ok = all(
        "error" not in entry and entry["tests"] and not entry["new_failures"]
        for entry in summary["packages"].values()
    )
    return Outcome(
        ok,
        lines,
        {f"ecosystem-{release.series}": summary},
        detail="every package ran, no new failure",
    )
