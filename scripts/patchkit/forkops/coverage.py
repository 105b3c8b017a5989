"""`coverage`: the series applied, as a fork maintainer applies it, to a fork of
every point release of its series (scripts/point_releases.json, checksums from
PyPI's index), and the series' new tests run on each result; the table goes to
COVERAGE.md.

Each fork is what a maintainer has: the release's sdist unpacked, `git init`, one
commit by the maintainer. `apply` runs as the documented command, in its own
process, with the maintainer's git configuration; its exit status and its words are
the outcome. Where it stops, the conflicting files are read from the repository.
"""

import dataclasses
import datetime
import json
import sys
import tempfile
from pathlib import Path

from patchkit.core.errors import CommandError
from patchkit.core.fork import new_test_ids, operation_in_progress
from patchkit.core.git import run_git
from patchkit.core.manifest import PROJECT_DIR, SCRIPTS_DIR, Release
from patchkit.core.process import run_process
from patchkit.core.report import Outcome, markdown_table, progress, text_table
from patchkit.core.runtests import run_both, run_runtests
from patchkit.core.sdists import fetch_sdist, unpack_sdist
from patchkit.core.workspace import prepare

POINT_RELEASES = SCRIPTS_DIR / "point_releases.json"
DEFAULT_MARKDOWN = PROJECT_DIR / "COVERAGE.md"


@dataclasses.dataclass
class Row:
    version: str
    applied: str  # "clean", "conflict", "refused" (nothing changed), "failed"
    conflicts: list
    passed: int = 0
    tests: int = 0
    detail: str = ""
    yanked: str = ""  # PyPI's reason, if the release was yanked

    @property
    def ok(self):
        """Applied with every new test passing, or stopped on a real conflict (files
        with conflict markers, as apply reports them), or a yanked release refused
        with the repository unchanged; a tool failure is not ok."""
        if self.applied == "conflict":
            return bool(self.conflicts)
        if self.applied == "refused":
            return bool(self.yanked)
        return self.applied == "clean" and self.tests > 0 and self.passed == self.tests


def point_releases(series_names, sample):
    """{series: [Release, ...]}: every point release, or with sample the first, one
    in between and the one the series is built on."""
    data = json.loads(POINT_RELEASES.read_text())["series"]
    chosen = {}
    for series in series_names:
        if series not in data:
            raise CommandError.usage(
                f"no point releases of series {series} in {POINT_RELEASES}",
                f"use one of: {', '.join(data)}",
            )
        chosen[series] = list(data[series].items())
    return (
        chosen
        if not sample
        else {
            series: [entries[0], entries[len(entries) // 2], entries[-1]]
            for series, entries in chosen.items()
        }
    )


def maintainer_fork(release, dest):
    """The release's sdist as a maintainer's git repository: one commit, branch main."""
    sdist = fetch_sdist(release)
    tree = unpack_sdist(sdist, dest)
    run_git(["init", "-q", "-b", "main"], tree)
    run_git(["config", "user.name", "Fork Maintainer"], tree)
    run_git(["config", "user.email", "maintainer@example.com"], tree)
    # No background gc after apply's fetch and am: it would still be writing into
    # .git/objects when the scratch folder is removed ("Directory not empty").
    run_git(["config", "gc.auto", "0"], tree)
    run_git(["config", "maintenance.auto", "false"], tree)
    run_git(["add", "-A", "-f", "."], tree)
    run_git(["commit", "-q", "-m", f"Django {release.version}"], tree)
    return tree


def apply_as_maintainer(fork, series):
    """(outcome, conflicting files, apply's last words)."""
    head = run_git(["rev-parse", "HEAD"], fork)
    completed = run_process(
        [sys.executable, str(SCRIPTS_DIR / "patchset.py"), "apply", str(fork), "--series", series],
        check=False,
    )
    # The scratch folder's name changes from run to run; COVERAGE.md must not.
    words = (completed.stdout + completed.stderr).replace(str(fork), "<fork>").strip().splitlines()
    if completed.returncode == 0:
        return "clean", [], words[-1] if words else ""
    conflicts = run_git(["diff", "--name-only", "--diff-filter=U"], fork).split()
    unchanged = (
        run_git(["rev-parse", "HEAD"], fork) == head
        and not run_git(["status", "--porcelain"], fork).strip()
        and not operation_in_progress(fork)
    )
    outcome = "conflict" if conflicts else "refused" if unchanged else "failed"
    # The tool's own error line comes after git's.
    errors = [w for w in words if w.startswith("error:")]
    return outcome, conflicts, errors[-1] if errors else words[-1]


def cover_release(series_release, version, entry, python, workdir):
    release = Release(
        series_release.series,
        version,
        entry["sha256"],
        series_release.pythons,
        series_release.stand_in,
    )
    fork = maintainer_fork(release, Path(workdir) / f"fork-{version}")
    applied, conflicts, words = apply_as_maintainer(fork, release.series)
    row = Row(version, applied, conflicts, detail=words, yanked=entry.get("yanked", ""))
    if applied != "clean":
        return row
    base = run_git(["rev-list", "--max-parents=0", "HEAD"], fork).strip()
    new = new_test_ids(fork, release, base=base, regression=False)
    _, outcomes = run_runtests(
        python,
        fork,
        sorted(new),
        parallel=1,
        import_from_tree=True,
        log_path=Path(workdir) / ".logs" / f"{version}.log",
        name=version,
    )
    row.tests = len(new)
    row.passed = sum(outcomes.get(test_id) == "pass" for test_id in new)
    return row


def cover_or_fail(series_release, version, entry, python, workdir):
    """cover_release, with a failure (a download, a fork) the row of that release
    alone, so the other release of the pair keeps its outcome."""
    try:
        return cover_release(series_release, version, entry, python, workdir)
    except CommandError as error:
        if error.is_usage:  # bad input stops the command, as before
            raise
        return Row(version, "failed", [], detail=" ".join(str(error).split())[:300])


def cover_series(manifest_release, entries, workspace):
    """Every listed point release of one series, two at a time on 2+ cores."""
    _, python = prepare(manifest_release, workspace, None, reverted=False)
    progress(
        f"Series {manifest_release.series}: {len(entries)} point release(s), "
        f"new tests with {python}"
    )
    rows = []
    with tempfile.TemporaryDirectory(dir=workspace.root) as scratch:
        for start in range(0, len(entries), 2):
            pair = entries[start : start + 2]
            jobs = {
                version: (
                    lambda v=version, e=entry: cover_or_fail(
                        manifest_release, v, e, python, scratch
                    )
                )
                for version, entry in pair
            }
            results = run_both(jobs)
            for version, _ in pair:
                row = results[version]
                progress(
                    f"  {version}: {row.applied}"
                    + (f" ({', '.join(row.conflicts)})" if row.conflicts else "")
                    + (f", new tests {row.passed}/{row.tests}" if row.tests else "")
                )
                rows.append(row)
    return rows


def row_cells(series, row):
    return (
        series,
        row.version,
        row.applied,
        ", ".join(row.conflicts) or "-",
        f"{row.passed}/{row.tests}" if row.tests else "-",
        "OK" if row.ok else "FAILED",
    )


HEADER = ("series", "release", "apply", "conflicting files", "new tests passed", "verdict")


def markdown_report(results, sample, command):
    every = [row for rows in results.values() for row in rows]
    clean = [row for row in every if row.applied == "clean"]
    green = sum(row.ok for row in clean)
    conflicts = sum(row.applied == "conflict" and row.ok for row in every)
    refused = sum(row.applied == "refused" and row.ok for row in every)
    failed = len(every) - len(clean) - conflicts - refused
    notes = [
        f"- {series} {row.version}: "
        + (f'yanked from PyPI ("{row.yanked}"); ' if row.yanked else "")
        + f"apply said: `{row.detail.split(';')[0]}`"
        for series, rows in results.items()
        for row in rows
        if row.applied != "clean"
    ]
    lines = [
        "# Coverage: the series on every point release",
        "",
        f"Measured {datetime.date.today().isoformat()} with `{command}`; regenerate it "
        "the same way, never edit it by hand.",
        "",
        "Each row: a fork of that release made as a maintainer makes one (the PyPI sdist, "
        "checksum from `scripts/point_releases.json`, unpacked, `git init`, one commit), "
        "`python3 scripts/patchset.py apply` on it, then the series' new tests on the "
        "result, with the series' first Python.",
        "",
        f"{'A sample: ' if sample else ''}{len(every)} point releases: {len(clean)} apply "
        f"cleanly and the new tests pass on {green} of them; {conflicts} stop in `git am` "
        f"with conflict markers in the files listed; {refused} yanked release(s) refused "
        f"with the repository unchanged; {failed} other failure(s).",
        "",
        markdown_table(HEADER, [row_cells(s, r) for s, rows in results.items() for r in rows]),
        "",
        *(["Where apply stopped:", "", *notes, ""] if notes else []),
    ]
    return "\n".join(lines)


def run_coverage(manifest, series_names, workspace, sample, markdown):
    names = series_names or [s for s, r in manifest.releases.items() if not r.stand_in]
    releases = point_releases(names, sample)
    results = {
        series: cover_series(manifest.release(series), entries, workspace)
        for series, entries in releases.items()
    }
    lines = [""]
    rows = [row_cells(s, r) for s, rows_ in results.items() for r in rows_]
    lines.append(text_table([HEADER, *rows]))
    for series, rows_ in results.items():
        for row in rows_:
            if not row.ok and row.detail:
                lines.append(f"  {series} {row.version}: {row.detail}")
    if markdown:
        command = "python3 scripts/patchset.py coverage" + (" --sample" if sample else "")
        Path(markdown).write_text(markdown_report(results, sample, command))
        lines.append(f"Wrote {markdown}")
    ok = all(row.ok for rows_ in results.values() for row in rows_)
    return Outcome(ok, lines, detail=f"{sum(len(r) for r in results.values())} point releases")
