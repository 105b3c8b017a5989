"""Red/green per commit and per call site.

`commits`: each commit of a series brings its own tests, which fail with only the
commits before it applied and pass with it.

`mutate`: every place where the series calls the helper in django/ is needed: put
the series' own iscoroutinefunction() back at that one place, and at least one of
the series' new tests must fail.
"""

import dataclasses
import re
import tempfile
from pathlib import Path

from patchkit.core.errors import CommandError
from patchkit.core.fork import (
    extract_commit,
    git,
    new_test_ids,
    tree_with_django_from,
    upstream_tag,
)
from patchkit.core.interpreters import python_version_of
from patchkit.core.report import check_outcome, progress, text_table
from patchkit.core.runtests import (
    FAILING_OUTCOMES,
    ProgressBoard,
    compare_outcomes,
    run_both,
    run_in_scratch_tree,
)
from patchkit.core.workspace import prepare

HELPER = "is_coroutine_callable"
HELPER_MODULE = "django/utils/inspect.py"


def test_module_labels(test_ids):
    """runtests.py labels for the modules holding test ids (module.Class.method)."""
    return sorted({test_id.rsplit(".", 2)[0] for test_id in test_ids})


def series_commits(fork, release):
    log = git(["log", "--reverse", "--format=%H %s", f"{upstream_tag(release)}..HEAD"], fork)
    return [tuple(line.split(" ", 1)) for line in log.splitlines()]


@dataclasses.dataclass
class CommitResult:
    commit: str
    subject: str
    new_tests: int
    red_green: int
    pinned: int
    violations: list  # (test id, before, after, rule)

    @property
    def ok(self):
        return self.new_tests > 0 and not self.violations


def check_commit(python, fork, release, parent, commit, subject, scratch, pinned):
    new = new_test_ids(fork, release, base=parent, head=commit, regression=False)
    if not new:
        return CommitResult(commit, subject, 0, 0, 0, [])
    labels = test_module_labels(new)
    with_commit = extract_commit(fork, commit, Path(scratch) / "with")
    without = tree_with_django_from(
        fork, commit, parent, f"django/ of {parent[:12]}, the rest of {commit[:12]}.\n"
    )
    without_commit = extract_commit(fork, without, Path(scratch) / "without")
    progress(f"{subject}: {len(labels)} test module(s) with and without its django/ changes...")
    logs = Path(scratch).parent / ".logs"
    board = ProgressBoard()
    results = run_both(
        {
            name: (
                lambda name=name, tree=tree: run_in_scratch_tree(
                    python, tree, labels, logs / f"{commit[:12]}-{name}.log", name, board
                )
            )
            for name, tree in (("with", with_commit), ("without", without_commit))
        }
    )
    (_, after), (_, before) = results["with"], results["without"]
    comparison = compare_outcomes(new, after, before, labels, pinned)
    return CommitResult(
        commit,
        subject,
        len(new),
        len(comparison.red_green),
        len(comparison.pinned),
        comparison.violations,
    )


def format_commit_results(release, python, results):
    lines = [
        f"Red/green per commit: series {release.series} ({release.base_name}) "
        f"on Python {python_version_of(python)}",
    ]
    rows = [("commit", "new", "red->green", "pinned", "violations", "subject")]
    problems = []
    for result in results:
        rows.append(
            (
                result.commit[:12],
                result.new_tests,
                result.red_green,
                result.pinned,
                len(result.violations),
                result.subject,
            )
        )
        if result.new_tests == 0:
            problems.append(f"  {result.commit[:12]}: the commit adds no test")
        for test_id, before, after, rule in result.violations:
            problems.append(
                f"  {result.commit[:12]}: {test_id}: without {before}, with {after} ({rule})"
            )
    lines.append(text_table(rows, indent="  "))
    if problems:
        lines += ["Problems:", *problems]
    ok = all(result.ok for result in results) and bool(results)
    return "\n".join(lines), ok


def run_commit_check(release, python, workspace, pinned):
    prepared, python = prepare(release, workspace, python, reverted=False)
    fork, workdir = prepared.fork, workspace.root
    parent = git(["rev-parse", upstream_tag(release)], fork).strip()
    results = []
    with tempfile.TemporaryDirectory(dir=workdir) as scratch:
        for commit, subject in series_commits(fork, release):
            results.append(
                check_commit(python, fork, release, parent, commit, subject, scratch, pinned)
            )
            parent = commit
    report, ok = format_commit_results(release, python, results)
    commits = [
        {
            "subject": result.subject,
            "new_tests": result.new_tests,
            "red_green": result.red_green,
            "pinned": result.pinned,
            "violations": len(result.violations),
        }
        for result in results
    ]
    return check_outcome(
        "commits", release, python_version_of(python), ok, report, commits=commits
    )


# Mutation: one call site at a time ----------------------------------------------

HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")
IMPORT = re.compile(r"^from asgiref.sync import .*\biscoroutinefunction\b", re.M)


@dataclasses.dataclass(frozen=True)
class CallSite:
    path: str
    line: int  # 1-based, in the patched file
    code: str


def helper_call_sites(fork, release):
    """Every line the series adds in django/ that calls the helper (its definition
    and its own module aside)."""
    diff = git(["diff", "-U0", upstream_tag(release), "HEAD", "--", "django"], fork)
    sites, path, line = [], None, 0
    for text in diff.splitlines():
        if text.startswith("+++ "):
            path = text[len("+++ b/") :] if text != "+++ /dev/null" else None
        elif HUNK.match(text):
            line = int(HUNK.match(text).group(1))
        elif text.startswith("+") and not text.startswith("+++"):
            code = text[1:]
            if (
                path
                and path != HELPER_MODULE
                and f"{HELPER}(" in code
                and not code.lstrip().startswith(("def ", "from ", "import "))
            ):
                sites.append(CallSite(path, line, code.strip()))
            line += 1
    return sites


def series_check_module(fork):
    """Where the series' iscoroutinefunction() comes from, as its helper imports it."""
    source = git(["show", f"HEAD:{HELPER_MODULE}"], fork)
    return "asgiref.sync" if IMPORT.search(source) else "inspect"


def mutated_line(code_line, module):
    replacement = f'__import__("{module}", fromlist=["_"]).iscoroutinefunction('
    return code_line.replace(f"{HELPER}(", replacement, 1)


@dataclasses.dataclass
class SiteResult:
    site: CallSite
    red: list  # new tests that failed with the site reverted

    @property
    def killed(self):
        return bool(self.red)


def run_mutation_check(release, python, workspace):
    prepared, python = prepare(release, workspace, python, reverted=False)
    fork, workdir = prepared.fork, workspace.root
    sites = helper_call_sites(fork, release)
    if not sites:
        raise CommandError(
            f"series {release.series} calls {HELPER}() nowhere in django/",
            "check that the series is applied",
        )
    new = sorted(new_test_ids(fork, release))
    module = series_check_module(fork)
    results = []
    with tempfile.TemporaryDirectory(dir=workdir) as scratch:
        tree = extract_commit(fork, "HEAD", Path(scratch) / "mutant")
        for number, site in enumerate(sites, 1):
            file = tree / site.path
            original = file.read_text()
            lines = original.splitlines(keepends=True)
            lines[site.line - 1] = mutated_line(lines[site.line - 1], module)
            file.write_text("".join(lines))
            progress(
                f"site {number}/{len(sites)}: {site.path}:{site.line} "
                f"({module}.iscoroutinefunction)"
            )
            log = workspace.log(f"site-{number}")
            try:
                _, outcomes = run_in_scratch_tree(python, tree, new, log, f"site {number}")
            finally:
                file.write_text(original)
            red = [test_id for test_id in new if outcomes.get(test_id) in FAILING_OUTCOMES]
            results.append(SiteResult(site, red))
    report, ok = format_site_results(release, python, results)
    return check_outcome(
        "mutate",
        release,
        python_version_of(python),
        ok,
        report,
        sites=len(results),
        killed=sum(result.killed for result in results),
        survivors=[f"{r.site.path}:{r.site.line}" for r in results if not r.killed],
    )


def format_site_results(release, python, results):
    lines = [
        f"Mutation check: series {release.series} ({release.base_name}) on Python "
        f"{python_version_of(python)}: each call of {HELPER}() reverted alone",
    ]
    rows = [("site", "red tests", "first red test")]
    for result in results:
        first = result.red[0] if result.red else "NONE: the site survives"
        rows.append((f"{result.site.path}:{result.site.line}", len(result.red), first))
    lines.append(text_table(rows, indent="  "))
    killed = sum(result.killed for result in results)
    lines.append(f"  sites killed: {killed} of {len(results)}")
    ok = killed == len(results)
    return "\n".join(lines), ok
