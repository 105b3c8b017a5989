"""Red/green of tests_regression/ over the series x Python matrix: on each pristine
release every test of the app must fail (and none fail to import or set up), on each
patched series every test must pass. One table for the whole matrix."""

import dataclasses

from patchkit.core.errors import CommandError
from patchkit.core.fork import REGRESSION_LABEL, new_test_ids, regression_dir
from patchkit.core.interpreters import python_version_of, selected_pythons
from patchkit.core.report import Outcome, progress, text_table
from patchkit.core.runtests import FAILING_OUTCOMES, compare_outcomes, run_runtests
from patchkit.core.workspace import fork_interpreter, prepare_trees

LOAD_FAILURE_PREFIX = "unittest.loader._FailedTest"


@dataclasses.dataclass
class Cell:
    series: str
    version: str
    python: str
    pristine: dict  # test id -> outcome on the release's django/
    patched: dict  # test id -> outcome on the patched series
    violations: list  # (test id, pristine outcome, patched outcome, rule)
    not_applicable: list = dataclasses.field(default_factory=list)  # skipped on both
    error: str = ""  # set when the cell could not run at all

    @property
    def load_failures(self):
        return sorted(
            test_id
            for outcomes in (self.pristine, self.patched)
            for test_id in outcomes
            if test_id.startswith(LOAD_FAILURE_PREFIX)
        )

    @property
    def ok(self):
        return (
            not self.error
            and not self.violations
            and not self.load_failures
            and bool(self.patched)
        )


def run_cell(release, interpreter, fork, reverted_tree, pinned=()):
    """Run the app on the patched fork and on the reverted tree with one interpreter."""
    labels = [REGRESSION_LABEL]
    progress(
        f"\n=== series {release.series}, Python {python_version_of(interpreter)}: patched tree ==="
    )
    _, patched = run_runtests(interpreter, fork, labels)
    # --parallel 1: on old Django/Python a failing subtest whose error cannot be
    # pickled aborts the parallel runner, and failures are what this run expects.
    progress(
        f"\n=== series {release.series}, Python {python_version_of(interpreter)}: "
        "pristine release ==="
    )
    _, pristine = run_runtests(
        interpreter, reverted_tree, labels, parallel=1, import_from_tree=True
    )
    comparison = compare_outcomes(new_test_ids(fork, release), patched, pristine, labels, pinned)
    # A test skipped on both trees covers what this release does not have (e.g.
    # async signal receivers before Django 5.0): not applicable, not a failure.
    not_applicable = sorted(
        test_id
        for test_id, outcome in patched.items()
        if outcome == "skip" and pristine.get(test_id) == "skip"
    )
    violations = [v for v in comparison.violations if v[0] not in not_applicable]
    return Cell(
        release.series,
        release.version,
        python_version_of(interpreter) or "?",
        pristine,
        patched,
        violations,
        not_applicable,
    )


def run_series(release, pythons, workspace, pinned=()):
    """Every requested Python of one series; a Python that cannot run gives a failed
    cell rather than stopping the matrix."""
    trees = prepare_trees(release, workspace)
    cells = []
    for python in pythons:
        try:
            cells.append(
                run_cell(
                    release,
                    fork_interpreter(release, workspace, trees.fork, python),
                    trees.fork,
                    trees.reverted,
                    pinned,
                )
            )
        except CommandError as error:
            if error.is_usage:  # bad input stops the command, as before
                raise
            cells.append(
                Cell(
                    release.series,
                    release.version,
                    python,
                    {},
                    {},
                    [],
                    error=str(error).splitlines()[0],
                )
            )
    return cells


def count_outcomes(outcomes, wanted):
    return sum(1 for outcome in outcomes.values() if outcome in wanted)


def format_matrix(cells):
    header = (
        "series",
        "Django",
        "Python",
        "pristine red",
        "import/setup failures",
        "patched green",
        "n/a (skipped on both)",
        "verdict",
    )
    rows = [header]
    for cell in cells:
        total = (len(cell.patched) or len(cell.pristine)) - len(cell.not_applicable)
        pristine_total = len(cell.pristine) - len(cell.not_applicable)
        rows.append(
            (
                cell.series,
                cell.version,
                cell.python,
                f"{count_outcomes(cell.pristine, FAILING_OUTCOMES)}/{pristine_total}",
                str(len(cell.load_failures)),
                f"{count_outcomes(cell.patched, {'pass'})}/{total}",
                str(len(cell.not_applicable)),
                "OK" if cell.ok else "FAILED",
            )
        )
    return text_table(rows, rule=True)


def format_pristine_failures(cells):
    """Which tests failed on the pristine releases (and how), once for all cells
    that agree, so the reason each is red can be read at a glance."""
    lines = ["Red on the pristine releases (outcome: cells):"]
    by_test = {}
    for cell in cells:
        for test_id, outcome in cell.pristine.items():
            if outcome in FAILING_OUTCOMES:
                by_test.setdefault((test_id, outcome), []).append(f"{cell.series}/py{cell.python}")
    for (test_id, outcome), where in sorted(by_test.items()):
        scope = "all" if len(where) == len(cells) else ", ".join(where)
        lines.append(f"  {test_id}: {outcome} ({scope})")
    return "\n".join(lines)


def format_not_applicable(cells):
    lines = [
        f"  {cell.series}/py{cell.python}: {test_id}"
        for cell in cells
        for test_id in cell.not_applicable
    ]
    return (
        "\n".join(["Skipped on both trees (not applicable to that release):", *lines])
        if lines
        else ""
    )


def format_problems(cells):
    lines = []
    for cell in cells:
        where = f"{cell.series}/py{cell.python}"
        if cell.error:
            lines.append(f"  {where}: could not run: {cell.error}")
        for test_id, before, after, rule in cell.violations:
            lines.append(f"  {where}: {test_id}: pristine {before}, patched {after} ({rule})")
        for test_id in cell.load_failures:
            lines.append(f"  {where}: failed on import or setup: {test_id}")
        if not cell.error and not cell.patched:
            lines.append(f"  {where}: no test ran on the patched tree")
    return "\n".join(["Problems:", *lines]) if lines else ""


def run_redgreen(manifest, series_names, pythons, workspace):
    """Run the matrix; return its Outcome (the table, the verdict)."""
    if not regression_dir().is_dir():
        raise CommandError.usage(
            f"{regression_dir()} does not exist", "run from the project checkout"
        )
    releases = [manifest.release(name) for name in series_names or manifest.releases]
    plan = [(release, selected_pythons(release, pythons)) for release in releases]
    if workspace.asgiref:
        # The asgiref series applies to a release that needs a newer Python.
        plan = [
            (release, [p for p in chosen if p in workspace.asgiref.pythons or "/" in p])
            for release, chosen in plan
        ]
    if not any(chosen for _, chosen in plan):
        raise CommandError.usage(
            f"none of the Pythons {', '.join(pythons)} is tested with the chosen series",
            "see the pythons of each series in scripts/releases.json",
        )
    cells = []
    for release, chosen in plan:
        if chosen:
            cells.extend(run_series(release, chosen, workspace, manifest.pinned_tests))
    lines = [""]
    lines.append(
        f"Red/green of {REGRESSION_LABEL} (tests_regression/): "
        "pristine release must fail, patched series must pass"
        + (
            f"; asgiref: the asgiref series on {workspace.asgiref.version}"
            if workspace.asgiref
            else "; asgiref: as installed with Django"
        )
    )
    lines.append(format_matrix(cells))
    lines.append("")
    lines.append(format_pristine_failures(cells))
    not_applicable = format_not_applicable(cells)
    if not_applicable:
        lines.append("")
        lines.append(not_applicable)
    problems = format_problems(cells)
    if problems:
        lines.append("")
        lines.append(problems)
    ok = all(cell.ok for cell in cells)
    return Outcome(ok, lines, detail=f"{sum(c.ok for c in cells)}/{len(cells)} cells")
