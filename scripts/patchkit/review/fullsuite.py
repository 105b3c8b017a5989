"""Django's whole test suite on a patched series and on its pristine release, with
the same interpreter; every test must have the same outcome on both (new tests
aside, which must go red -> green). Writes a JSON summary for `case`."""

import datetime
import platform
import time
from pathlib import Path

from patchkit.core.errors import CommandError
from patchkit.core.fork import new_test_ids
from patchkit.core.interpreters import python_version_of
from patchkit.core.report import Outcome, progress
from patchkit.core.runtests import (
    FAILING_OUTCOMES,
    compare_outcomes,
    format_comparison,
    outcome_counts,
    run_runtests,
    summarize_outcomes,
)
from patchkit.core.venvs import ensure_pip, run_checked
from patchkit.core.workspace import prepare

DEFAULT_WORKDIR_NAME = ".fullsuite"


def requirement_lines(path):
    lines = (line.split("#", 1)[0].strip() for line in Path(path).read_text().splitlines())
    return [line for line in lines if line]


def install_suite_requirements(python, fork):
    """Install tests/requirements/py3.txt; a requirement that cannot be built here
    (e.g. pylibmc without libmemcached) is skipped: its tests skip on both trees."""
    requirements = Path(fork) / "tests" / "requirements" / "py3.txt"
    progress(f"Installing {requirements.relative_to(fork)} into {python}...")
    ensure_pip(python)
    try:
        run_checked(
            [python, "-m", "pip", "install", "-q", "-r", str(requirements)],
            "installing the suite's requirements",
            "",
        )
        return []
    except CommandError:
        progress("Some requirements do not install here; installing them one by one...")
    skipped = []
    for requirement in requirement_lines(requirements):
        try:
            run_checked(
                [python, "-m", "pip", "install", "-q", requirement],
                f"installing {requirement}",
                "",
            )
        except CommandError:
            progress(f"  skipped (does not install here): {requirement}")
            skipped.append(requirement)
    return skipped


def fullsuite_summary(
    release, python, comparison, patched, reverted, statuses, skipped_requirements, seconds
):
    return {
        "series": release.series,
        "version": release.version,
        "python": platform.python_version() if python is None else python,
        "date": datetime.date.today().isoformat(),
        "minutes": round(seconds / 60, 1),
        "runtests_status": statuses,
        "requirements_not_installed": skipped_requirements,
        "patched": outcome_counts(patched),
        "pristine": outcome_counts(reverted),
        "tests_patched": len(patched),
        "tests_pristine": len(reverted),
        "new_tests": len(comparison.new_tests),
        "red_green": len(comparison.red_green),
        "same_outcome": comparison.unchanged,
        "differing": [
            {"test": test_id, "pristine": before, "patched": after, "rule": rule}
            for test_id, before, after, rule in comparison.violations
        ],
        "load_failures": [f"{test_id} ({tree})" for test_id, tree in comparison.load_failures],
        # Failing the same way on the release: this machine's, not the patches'.
        "failing_on_both": sorted(
            f"{test_id} ({outcome})"
            for test_id, outcome in patched.items()
            if outcome in FAILING_OUTCOMES and reverted.get(test_id) == outcome
        ),
        "ok": comparison.ok,
    }


def run_fullsuite(manifest, series, python, workspace, parallel):
    """Run the whole suite on both trees; return the comparison and the summary as
    an Outcome."""
    release = manifest.release(series)
    started = time.monotonic()
    trees, python = prepare(release, workspace, python)
    fork, reverted_tree = trees.fork, trees.reverted
    version = python_version_of(python)
    skipped = install_suite_requirements(python, fork)
    progress("Running the whole suite on the patched tree...")
    patched_status, patched = run_runtests(python, fork, [], parallel)
    progress(f"Patched tree: {summarize_outcomes(patched)} (runtests.py exit {patched_status})")
    progress(f"Running the whole suite on the pristine release {release.version}...")
    reverted_status, reverted = run_runtests(
        python, reverted_tree, [], parallel, import_from_tree=True
    )
    progress(f"Pristine tree: {summarize_outcomes(reverted)} (runtests.py exit {reverted_status})")
    # None: every label ran, so every new test is expected to have run.
    comparison = compare_outcomes(
        new_test_ids(fork, release), patched, reverted, None, manifest.pinned_tests
    )
    report = format_comparison(
        comparison,
        f"whole suite, series {release.series} vs {release.base_name} on Python {version}",
        patched,
        reverted,
    )
    summary = fullsuite_summary(
        release,
        version,
        comparison,
        patched,
        reverted,
        {"patched": patched_status, "pristine": reverted_status},
        skipped,
        time.monotonic() - started,
    )
    # format_comparison holds the verdict line.
    return Outcome(
        comparison.ok, [report], {f"fullsuite-{release.series}": summary}, verdict=False
    )
