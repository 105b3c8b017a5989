"""Running Django's tests/runtests.py, recording each test's outcome, live
progress, and the pristine-vs-patched (red/green) comparison."""

import concurrent.futures
import dataclasses
import json
import os
import tempfile
import threading
import time
from pathlib import Path

from patchkit.core.errors import CommandError
from patchkit.core.manifest import PAYLOADS_DIR
from patchkit.core.process import spawn, start_logged
from patchkit.core.report import (
    live_status,
    progress,
    progress_echo,
    progress_status,
    verdict_line,
)

RUNNER_DIR = PAYLOADS_DIR / "runner"
FAILING_OUTCOMES = {"fail", "error"}


def stream_command(command, cwd, env):
    """Run command, echoing its output as it comes; return (status, output)."""
    process = spawn(command, cwd=cwd, env=env)
    chunks = []
    while True:
        chunk = os.read(process.stdout.fileno(), 4096)
        if not chunk:
            break
        chunks.append(chunk)
        progress_echo(chunk)
    process.stdout.close()
    return process.wait(), b"".join(chunks).decode(errors="replace")


class ProgressBoard:
    """One status line for the test runs under way: tests done of found, failures
    so far, time. Rewritten in place on a terminal; otherwise (CI logs) a plain
    line at each quarter of the tests done, and every `quiet_every` seconds while
    none is reached, so that a slow machine does not print more lines."""

    def __init__(self, quiet_every=300):
        self.live = live_status()
        self.quiet_every = quiet_every
        self.runs = {}  # name -> progress file
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.last_plain = self.started
        self.last_quarter = 0

    def add(self, name, progress_file):
        with self.lock:
            self.runs[name] = Path(progress_file)

    def remove(self, name):
        with self.lock:
            self.runs.pop(name, None)
            if self.live and not self.runs:
                progress_status("")

    def counts(self):
        """[(name, done, found or None, failed)] of the runs under way."""
        counts = []
        for name, path in self.runs.items():
            text = path.read_text() if path.exists() else ""
            found, _, done = text.partition("\n")
            failed = sum(done.count(code) for code in "fe")
            counts.append((name, len(done), int(found) if found.isdigit() else None, failed))
        return counts

    def line(self, counts=None):
        parts = [
            f"{name} {done}/{found or '?'} tests, {failed} failed"
            for name, done, found, failed in counts or self.counts()
        ]
        elapsed = int(time.monotonic() - self.started)
        return f"  {' | '.join(parts)} | {elapsed // 60}m{elapsed % 60:02d}s"

    def quarter(self, counts):
        done = sum(c[1] for c in counts)
        found = sum(c[2] or 0 for c in counts)
        return 4 * done // found if found else 0

    def tick(self):
        with self.lock:
            if not self.runs:
                return
            now = time.monotonic()
            counts = self.counts()
            quarter = self.quarter(counts)
            if self.live:
                progress_status(self.line(counts))
            elif self.last_quarter < quarter < 4 or now - self.last_plain >= self.quiet_every:
                self.last_plain, self.last_quarter = now, max(quarter, self.last_quarter)
                progress(self.line(counts))


def logged_command(command, cwd, env, log_path, board, name):
    """Run command with its output in log_path, showing progress on board; return
    (status, output)."""
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    board.add(name, env["PATCHSET_PROGRESS"])
    try:
        process = start_logged(command, log_path, cwd=cwd, env=env)
        while process.poll() is None:
            board.tick()
            time.sleep(0.5)
    finally:
        board.remove(name)
    return process.returncode, log_path.read_text(errors="replace")


def run_runtests(
    python,
    tree,
    labels,
    parallel=None,
    import_from_tree=False,
    log_path=None,
    board=None,
    name="tests",
):
    """Run tests/runtests.py in tree; return (exit status, {test id: outcome}).

    import_from_tree puts the tree first on PYTHONPATH so django is imported from it
    rather than from the installed (patched) fork. With log_path, runtests.py's
    output goes to that file and board shows progress; else it is streamed.
    """
    tree = Path(tree)
    env = dict(os.environ)
    paths = [str(RUNNER_DIR)] + ([str(tree)] if import_from_tree else [])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    with tempfile.TemporaryDirectory() as scratch:
        results_path = Path(scratch) / "results.json"
        env["PATCHSET_RESULTS"] = str(results_path)
        env["PATCHSET_PROGRESS"] = str(Path(scratch) / "progress")
        command = [str(python), "runtests.py", "--settings", "patchset_test_settings"]
        if parallel is not None:
            command += ["--parallel", str(parallel)]
        command += list(labels)
        where = f"its log {log_path}" if log_path else "its output above"
        if log_path:
            status, output = logged_command(
                command, tree / "tests", env, log_path, board or ProgressBoard(), name
            )
        else:
            progress(f"$ cd {tree / 'tests'} && {' '.join(command)}")
            status, output = stream_command(command, tree / "tests", env)
        expected = f"Testing against Django installed in '{tree / 'django'}'"
        if expected not in output:
            raise CommandError(
                f"runtests.py in {tree} did not test {tree / 'django'} "
                "(its 'Testing against Django installed in' line differs or is missing)",
                f"check PYTHONPATH and what is installed in the interpreter; read {where}",
            )
        if not results_path.exists():
            raise CommandError(
                f"runtests.py in {tree} recorded no results (exit status {status})",
                f"read {where}",
            )
        return status, json.loads(results_path.read_text())


def run_in_scratch_tree(python, tree, labels, log_path, name, board=None):
    """Run labels in a scratch tree (a commit or a mutant extracted from the fork):
    django is imported from the tree, one process, so each outcome is its own."""
    return run_runtests(
        python,
        tree,
        labels,
        parallel=1,
        import_from_tree=True,
        log_path=log_path,
        board=board,
        name=name,
    )


def run_both(jobs):
    """Run {name: callable} at the same time when the machine has 2 or more cores,
    one after the other otherwise; return {name: result}."""
    if (os.cpu_count() or 1) < 2 or len(jobs) < 2:
        return {name: job() for name, job in jobs.items()}
    with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


@dataclasses.dataclass
class Comparison:
    new_tests: list
    red_green: list
    skipped_new: list  # skipped on both trees, e.g. inherited by a class that skips it
    pinned: list  # pass on both trees: they pin a behaviour the series keeps
    unchanged: int
    violations: list  # (test id, reverted outcome, patched outcome, rule broken)
    load_failures: list  # (test id, tree)
    patched_count: int
    reverted_count: int
    # Pinned tests that pin released asgiref's behaviour, run with the asgiref
    # series installed: they fail on both trees, since the series changes it.
    asgiref_changed: list = dataclasses.field(default_factory=list)

    @property
    def ok(self):
        # A label that fails to import (a typo in tox posargs, say) tests nothing.
        return not self.violations and not self.load_failures and self.patched_count > 0


def selected_by_labels(test_id, labels):
    """Whether runtests.py labels (apps, modules, classes or methods) select test_id."""
    return any(test_id == label or test_id.startswith(label + ".") for label in labels)


def compare_outcomes(new_ids, patched, reverted, labels=None, pinned=(), asgiref_changed=()):
    """Apply the red/green rules: each new test fails/errors on the reverted tree and
    passes on the patched one, except pinned ones, which pass on both, and those of
    asgiref_changed (pinned tests of asgiref's behaviour, with the asgiref series
    installed), which fail on both; every other test has the same outcome on both.

    New tests outside the labels that ran are not expected to have run.
    """
    if labels is not None:
        new_ids = {test_id for test_id in new_ids if selected_by_labels(test_id, labels)}
    violations, red_green, skipped_new, pinned_kept, unchanged = [], [], [], [], 0
    changed_by_asgiref = []
    for test_id in sorted(new_ids):
        before, after = reverted.get(test_id, "missing"), patched.get(test_id, "missing")
        if test_id in asgiref_changed:
            if before in FAILING_OUTCOMES and after in FAILING_OUTCOMES:
                changed_by_asgiref.append(test_id)
            else:
                violations.append(
                    (test_id, before, after, "the asgiref series must change what it pins")
                )
        elif test_id in pinned:
            if before == after == "pass":
                pinned_kept.append(test_id)
            else:
                violations.append((test_id, before, after, "pinned test must pass on both"))
        elif before in FAILING_OUTCOMES and after == "pass":
            red_green.append(test_id)
        elif before == after == "skip":
            skipped_new.append(test_id)
        else:
            violations.append((test_id, before, after, "new test must be red then green"))
    for test_id in sorted((set(patched) | set(reverted)) - set(new_ids)):
        before, after = reverted.get(test_id, "missing"), patched.get(test_id, "missing")
        if before == after:
            unchanged += 1
        else:
            violations.append((test_id, before, after, "outcome changed"))
    load_failures = [
        (test_id, tree)
        for tree, outcomes in (("patched", patched), ("reverted", reverted))
        for test_id in sorted(outcomes)
        if test_id.startswith("unittest.loader._FailedTest")
    ]
    return Comparison(
        sorted(new_ids),
        red_green,
        skipped_new,
        pinned_kept,
        unchanged,
        violations,
        load_failures,
        len(patched),
        len(reverted),
        changed_by_asgiref,
    )


def split_failures(comparison, patched, reverted):
    """The tests failing on the patched tree, split in two: (same on both trees, caused
    by the series), each a sorted list of (test id, reverted outcome, patched outcome).
    A test failing the same way on the release is not the series' doing (Django's own
    tests that fail on this machine); a new test of the series that fails, or an old
    one whose outcome changed, is. The asgiref series' pinned tests, which fail on
    both trees on purpose, are listed on their own line and in neither."""
    new_tests = set(comparison.new_tests)
    same, caused = [], []
    for test_id in sorted(patched):
        after = patched[test_id]
        if after not in FAILING_OUTCOMES or test_id in comparison.asgiref_changed:
            continue
        before = reverted.get(test_id, "missing")
        row = (test_id, before, after)
        (same if before == after and test_id not in new_tests else caused).append(row)
    return same, caused


def format_failures(rows, limit):
    lines = [
        f"    {test_id}: reverted {before}, patched {after}" for test_id, before, after in rows
    ]
    if len(rows) > limit:
        lines[limit:] = [f"    ... and {len(rows) - limit} more (in runtests.py's output)"]
    return lines


def format_comparison(comparison, title, patched=None, reverted=None, limit=10):
    """The red/green report, its verdict on the first line. Given the outcomes, the
    tests failing on the patched tree come next, split into those that fail the
    same way on the release and those the series causes (at most limit of each)."""
    lines = [verdict_line(comparison.ok, f"red/green, {title}")]
    if patched is not None:
        same, caused = split_failures(comparison, patched, reverted)
        lines += [
            f"  failing, caused by the series                        {len(caused)}",
            *format_failures(caused, limit),
            f"  failing the same way on the release (not the series) {len(same)}",
            *format_failures(same, limit),
        ]
    lines += [
        f"  tests recorded         patched {comparison.patched_count}, "
        f"reverted {comparison.reverted_count}",
        f"  new tests              {len(comparison.new_tests)}",
        f"  red -> green           {len(comparison.red_green)}",
        f"  new, skipped on both   {len(comparison.skipped_new)}",
        f"  new, pinned (pass on both) {len(comparison.pinned)}",
        *(
            [f"  pinned, changed by the asgiref series (fail on both) {len(changed)}"]
            if (changed := comparison.asgiref_changed)
            else []
        ),
        *(f"    {test_id}" for test_id in comparison.asgiref_changed),
        f"  same outcome on both   {comparison.unchanged}",
        f"  violations             {len(comparison.violations)}",
    ]
    for test_id, before, after, rule in comparison.violations:
        lines.append(f"    {test_id}: reverted {before}, patched {after} ({rule})")
    lines.append(f"  import/setup failures  {len(comparison.load_failures)}")
    for test_id, tree in comparison.load_failures:
        lines.append(f"    {test_id} ({tree})")
    if comparison.patched_count == 0:
        lines.append("  no test ran on the patched tree")
    return "\n".join(lines)


def summarize_outcomes(outcomes):
    return format_counts(outcome_counts(outcomes))


def format_counts(counts):
    """{"fail": 2, "pass": 9} as "2 fail, 9 pass"."""
    return ", ".join(f"{n} {outcome}" for outcome, n in counts.items())


def outcome_counts(outcomes):
    counts = {}
    for outcome in outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return dict(sorted(counts.items()))
