"""`setup` and `test`: Django's tests for the affected labels on the patched tree
and, to compare, on the reverted one (both at once on 2+ cores)."""

from patchkit.core.fork import REGRESSION_LABEL, new_test_ids, regression_dir
from patchkit.core.interpreters import python_version_of
from patchkit.core.report import Outcome, progress
from patchkit.core.runtests import (
    ProgressBoard,
    compare_outcomes,
    format_comparison,
    run_both,
    run_runtests,
    summarize_outcomes,
)
from patchkit.core.workspace import prepare


def labels_for(manifest, requested):
    if requested:
        return list(requested)
    labels = list(manifest.labels)
    if regression_dir().is_dir():
        labels.append(REGRESSION_LABEL)
    return labels


def new_test_modules(fork, release):
    """The test modules that define the series' new tests (tests_regression/'s too)."""
    return sorted({test_id.rsplit(".", 2)[0] for test_id in new_test_ids(fork, release)})


def run_series_tests(
    manifest,
    release,
    workspace,
    python,
    labels,
    compare,
    parallel=None,
    verbose=False,
    new_tests_only=False,
):
    """Prepare the trees, run the labels (or only the modules of the series' new
    tests); return (Outcome, fork, interpreter). runtests.py's output goes to log
    files unless verbose."""
    trees, python = prepare(release, workspace, python, reverted=compare)
    if new_tests_only:
        labels = new_test_modules(trees.fork, release)
    if compare:
        # Django's parallel runner replays the workers' results by test index, and
        # under load it was seen to drop or shift some (Found 2294, Ran 2256): a
        # per-test comparison needs every outcome on the test it belongs to.
        parallel = 1
    # The reverted run imports django/ from its own tree, not the installed fork.
    runs = {"patched": (trees.fork, False)}
    if compare:
        runs["reverted"] = (trees.reverted, True)
    logs = {name: None if verbose else workspace.log(f"{release.series}-{name}") for name in runs}
    board = ProgressBoard()
    progress(
        f"Running {len(labels)} label(s) on the {' and '.join(runs)} "
        f"tree{'s' if compare else ''}..."
    )
    jobs = {
        name: (
            lambda name=name, tree=tree, own=own: run_runtests(
                python,
                tree,
                labels,
                parallel,
                import_from_tree=own,
                log_path=logs[name],
                board=board,
                name=name,
            )
        )
        for name, (tree, own) in runs.items()
    }
    results = run_both(jobs) if not verbose else {name: job() for name, job in jobs.items()}
    for name, (status, outcomes) in results.items():
        if compare:
            # Which failures matter is the comparison's to say: a tree's own counts and
            # exit status would flag Django's tests that fail on the release too.
            counts = f"{len(outcomes)} tests recorded"
        else:
            counts = f"{summarize_outcomes(outcomes)} (runtests.py exit {status})"
        progress(f"{name.capitalize()} tree: {counts}")
        if logs[name]:
            progress(f"  full output: {logs[name]}")
    status, patched = results["patched"]
    if not compare:
        return Outcome(status == 0, verdict=False), trees.fork, python
    _, reverted = results["reverted"]
    comparison = compare_outcomes(
        new_test_ids(trees.fork, release),
        patched,
        reverted,
        labels,
        manifest.pinned_tests,
        manifest.asgiref_dependent_tests if workspace.asgiref else (),
    )
    title = f"series {release.series} ({release.base_name}) on Python {python_version_of(python)}"
    if workspace.asgiref:
        title += f", with the asgiref series on asgiref {workspace.asgiref.version}"
    # format_comparison starts with the verdict line.
    report = format_comparison(comparison, title, patched, reverted)
    return Outcome(comparison.ok, ["", report], verdict=False), trees.fork, python


def run_setup(manifest, release, workspace, python, verbose):
    outcome, fork, python = run_series_tests(
        manifest, release, workspace, python, labels_for(manifest, None), True, None, verbose
    )
    outcome.lines.append("Run Django's tests by hand with:")
    outcome.lines.append(f"  cd {fork / 'tests'} && {python} runtests.py middleware")
    return outcome
