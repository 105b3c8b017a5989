"""UPSTREAM.md, the case for the change, regenerated from scripts/case_template.md:
figures come from the checks' JSON summaries (evidence/, bench's too), the
patched trees (call sites, new tests, docs) and a request actually served by the
pristine and the patched Django."""

import ast
import datetime
import json
import os
import re
from pathlib import Path

from patchkit.core.benchfigures import (
    DETECTION,
    HOPS,
    PER_REQUEST,
    PYTHON_CALLS,
    changes_text,
    results_tables,
    targets_text,
)
from patchkit.core.errors import CommandError
from patchkit.core.evidence import LINT_TOOLS, read_evidence
from patchkit.core.fork import (
    build_reverted_tree,
    git,
    materialize_fork,
    new_test_ids,
    upstream_tag,
)
from patchkit.core.ledger import read_ledger
from patchkit.core.manifest import PAYLOADS_DIR, PROJECT_DIR, SCRIPTS_DIR, project_dir
from patchkit.core.process import run_process
from patchkit.core.report import Outcome, markdown_table
from patchkit.core.runtests import format_counts
from patchkit.core.workspace import fork_interpreter

TEMPLATE = SCRIPTS_DIR / "case_template.md"
DEMO = PAYLOADS_DIR / "case_worker" / "callable_view_demo.py"
DEMO_REQUIREMENTS = PROJECT_DIR / "requirements" / "case-demo.txt"
HELPER = "is_coroutine_callable"
FAIL_OPEN = "user-passes-test-fail-open"
CHECKLIST_FILE = "docs/internals/contributing/writing-code/submitting-patches.txt"
FALSE_POSITIVE_WORDS = (
    "class",
    "instance",
    "mixin",
    "partial",
    "mock",
    "generator",
    "slots",
    "proxy",
    "marked",
    "sync",
    "attribute",
    "raise",
)


def upstream_path():
    return project_dir() / "UPSTREAM.md"


def render(template, values):
    def substitute(match):
        return str(values[match.group(1)])

    return re.sub(r"\{\{(\w+)\}\}", substitute, template)


def bullet_list(lines, empty="(none)"):
    return "\n".join(f"- {line}" for line in lines) if lines else f"- {empty}"


# Computed from the patched trees ----------------------------------------------


def enclosing_names(tree):
    """{call node: 'Class.function'} for every call inside a def."""
    names = {}

    def visit(node, scope):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(child, (*scope, child.name))
            else:
                if isinstance(child, ast.Call):
                    names[child] = ".".join(scope) or "<module>"
                visit(child, scope)

    visit(tree, ())
    return names


def call_sites(fork, function_name):
    """(path, line, enclosing function) of each call of function_name in django/."""
    sites = []
    for path in sorted((Path(fork) / "django").rglob("*.py")):
        source = path.read_text()
        if function_name not in source:
            continue
        for call, scope in enclosing_names(ast.parse(source)).items():
            func = call.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name == function_name:
                sites.append((str(path.relative_to(fork)), call.lineno, scope))
    return sorted(sites)


def call_sites_text(forks):
    blocks = []
    for series, fork in forks.items():
        # The helper's own recursion (through functools.partial) is no use of it.
        sites = [site for site in call_sites(fork, HELPER) if site[2] != HELPER]
        files = len({path for path, _, _ in sites})
        blocks.append(
            f"**{series}**: {len(sites)} call sites in {files} files\n\n"
            + bullet_list([f"`{path}:{line}` in `{scope}`" for path, line, scope in sites])
        )
    return "\n\n".join(blocks)


def remaining_sites_text(forks):
    blocks = []
    for series, fork in forks.items():
        sites = [site for site in call_sites(fork, "iscoroutinefunction") if site[2] != HELPER]
        blocks.append(
            f"**{series}**: {len(sites)}\n\n"
            + bullet_list([f"`{path}:{line}` in `{scope}`" for path, line, scope in sites])
        )
    return "\n\n".join(blocks)


def new_tests_by_series(forks, releases):
    return {series: sorted(new_test_ids(fork, releases[series])) for series, fork in forks.items()}


def new_tests_text(tests_by_series):
    rows = []
    for series, tests in tests_by_series.items():
        apps = {}
        for test_id in tests:
            app = test_id.split(".")[0]
            apps[app] = apps.get(app, 0) + 1
        rows.append(
            (
                series,
                len(tests),
                ", ".join(f"{app} {count}" for app, count in sorted(apps.items())),
            )
        )
    return markdown_table(("series", "new tests", "per test app"), rows)


def tests_matching(tests, module_parts, words=()):
    chosen = [t for t in tests if any(part in t for part in module_parts)]
    if words:
        chosen = [t for t in chosen if any(word in t.lower() for word in words)]
    return bullet_list([f"`{test_id}`" for test_id in sorted(set(chosen))])


# A request served by each tree -------------------------------------------------


def run_demo(python, tree, import_from_tree):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree) if import_from_tree else ""
    completed = run_process([python, str(DEMO)], env=env, cwd=DEMO.parent, check=False)
    if completed.returncode != 0:
        raise CommandError(
            f"the callable view demo failed:\n{completed.stderr}", f"run {DEMO} by hand"
        )
    result = json.loads(completed.stdout)
    if Path(result["django"]).parent != Path(tree) / "django":
        raise CommandError(
            f"the demo imported {result['django']}, not {tree}", "use a fresh --workdir"
        )
    return result


def served(outcome):
    if "error" in outcome:
        return f"{outcome['error']}\n  raised at {outcome['raised_in']}"
    return f"HTTP {outcome['status']} {outcome['body']!r}"


# The checks' summaries ----------------------------------------------------------


def not_run(command):
    return f"*Not run yet: `{command}` writes it.*"


def fullsuite_text(summary):
    if summary is None:
        return not_run("python3 scripts/patchset.py fullsuite")
    lines = [
        f"Django's whole suite (`python3 scripts/patchset.py fullsuite`, {summary['date']}, "
        f"{summary['minutes']} minutes), series {summary['series']} against Django "
        f"{summary['version']}, Python {summary['python']}:",
        "",
        markdown_table(
            ("tree", "tests", "outcomes"),
            [
                ("pristine", summary["tests_pristine"], format_counts(summary["pristine"])),
                ("patched", summary["tests_patched"], format_counts(summary["patched"])),
            ],
        ),
        "",
        f"- tests with the same outcome on both trees: {summary['same_outcome']}",
        f"- new tests: {summary['new_tests']}, red on pristine and green patched: "
        f"{summary['red_green']}",
        f"- tests whose outcome differs: {len(summary['differing'])}",
    ]
    lines += [
        f"  - `{d['test']}`: pristine {d['pristine']}, patched {d['patched']}"
        for d in summary["differing"]
    ]
    if summary["requirements_not_installed"]:
        lines.append(
            "- not installable here (their tests skip on both trees): "
            + ", ".join(f"`{r}`" for r in summary["requirements_not_installed"])
        )
    lines.append(
        f"- test modules that did not load, on either tree: {len(summary['load_failures'])}"
    )
    lines += [f"  - `{failure}`" for failure in summary["load_failures"]]
    failing = summary.get("failing_on_both", [])
    lines.append(
        f"- tests that fail the same way on the pristine release (this machine's "
        f"failures, not the patches'): {len(failing)}"
    )
    lines += [f"  - `{test}`" for test in failing]
    return "\n".join(lines)


def run_and_missing(summaries):
    """({series: summary} of the checks run on the current patches, a sentence
    naming the series they were not run on, or "")."""
    present = {series: s for series, s in summaries.items() if s is not None}
    missing = [series for series, s in summaries.items() if s is None]
    return present, (f"Not run on the current patches: {', '.join(missing)}." if missing else "")


# The commits table: (column title, key of a commit's summary).
COMMIT_COLUMNS = (
    ("subject", "subject"),
    ("new tests", "new_tests"),
    ("red without, green with", "red_green"),
    ("pinned (green on both)", "pinned"),
    ("violations", "violations"),
)


def commits_text(summary):
    if summary is None:
        return not_run("python3 scripts/patchset.py commits --series main")
    header = ("commit", *(title for title, _ in COMMIT_COLUMNS))
    rows = [
        (number, *(entry[key] for _, key in COMMIT_COLUMNS))
        for number, entry in enumerate(summary["commits"], 1)
    ]
    return (
        f"`python3 scripts/patchset.py commits --series {summary['series']}`: each commit "
        "on top of the ones before it, its new tests run without it and with it "
        f"(Django {summary['version']}, Python {summary['python']}); "
        f"verdict {'OK' if summary['ok'] else 'FAILED'}.\n\n" + markdown_table(header, rows)
    )


def mutate_text(summary):
    if summary is None:
        return not_run("python3 scripts/patchset.py mutate --series main")
    survivors = summary["survivors"]
    return (
        f"`python3 scripts/patchset.py mutate --series {summary['series']}` (Python "
        f"{summary['python']}): each call of `is_coroutine_callable()` in `django/` "
        "replaced alone by the series' `iscoroutinefunction()`, then the new tests run: "
        f"{summary['killed']} of {summary['sites']} call sites make at least one test fail"
        + ("; surviving: " + ", ".join(f"`{site}`" for site in survivors) if survivors else ".")
    )


EXPLORE_COLUMNS = ("cases", "same", "broken on both", "fixed", "in the ledger", "limitation")


def explore_text(summaries):
    present, missing = run_and_missing(summaries)
    if not present:
        return not_run("python3 scripts/patchset.py explore --series main 6.1 6.0 5.2 4.2")
    rows = []
    for series, summary in present.items():
        chains = summary["chains"].values()
        entries = summary["entry_points"].values()
        rows.append(
            (
                series,
                summary["version"],
                summary["python"],
                sum(c["tried"] for c in chains),
                sum(c["fixed"] for c in chains),
                sum(c["changed_while_working"] for c in chains),
                sum(c["now_load_error"] for c in chains),
                *(sum(e[column] for e in entries) for column in EXPLORE_COLUMNS),
                summary["problems"],
            )
        )
    return (
        "`python3 scripts/patchset.py explore --series main 6.1 6.0 5.2 4.2` (as in CI): "
        "seeded middleware chains under both handlers, and every entry point the "
        "series change in every form of callable, on the release and the series "
        "side by side. A problem is a difference `LEDGER.md` does not list, a chain "
        "broken on the series, or an object that does not behave like its `async def` "
        "twin.\n\n"
        + markdown_table(
            (
                "series",
                "release",
                "Python",
                "chains",
                "chains fixed",
                "chains changed while working",
                "chains now a load-time error",
                *(f"entry points: {column}" for column in EXPLORE_COLUMNS),
                "problems",
            ),
            rows,
        )
        + (f"\n\n{missing}" if missing else "")
    )


def lint_text(summary):
    if summary is None:
        return not_run("python3 scripts/patchset.py lint")
    rows = [
        (
            series,
            entry["version"],
            entry["files"],
            *(entry["new"].get(tool, 0) for tool in LINT_TOOLS),
            entry["preexisting"],
        )
        for series, entry in summary.items()
    ]
    lines = [
        markdown_table(
            ("series", "release", "files touched", *LINT_TOOLS, "found in the release too"), rows
        ),
        "",
    ]
    for series, entry in summary.items():
        lines.append(f"- {series}: " + ", ".join(f"{k} {v}" for k, v in entry["tools"].items()))
        for finding in entry["findings"]:
            first = finding["message"].splitlines()[0]
            lines.append(f"  - `{finding['path']}:{finding['line']}` {finding['tool']}: {first}")
    return "\n".join(lines)


def docs_text(summary):
    if summary is None:
        return not_run("python3 scripts/patchset.py docs")
    lines = [
        f"Series {summary['series']} against Django {summary['version']}, "
        + ", ".join(f"{k} {v}" for k, v in summary["tools"].items())
        + ":",
        "",
    ]
    rows = []
    for target in ("html", "spelling"):
        result = summary[target]
        if "skipped" in result:
            rows.append((f"make {target}", "-", "-", f"skipped: {result['skipped']}"))
        else:
            rows.append(
                (
                    f"make {target}",
                    result["warnings_pristine"],
                    result["warnings_patched"],
                    len(result["new"]),
                    len(result.get("offline_only", [])),
                )
            )
    lines.append(
        markdown_table(
            (
                "build",
                "pristine warnings",
                "patched warnings",
                "new warnings",
                "new, stdlib references unresolved offline",
            ),
            rows,
        )
    )
    return "\n".join(lines)


def ecosystem_text(summaries):
    present, missing = run_and_missing(summaries)
    if not present:
        return not_run("python3 scripts/patchset.py ecosystem")
    rows = [
        (
            series,
            name,
            entry["version"],
            entry["tests"],
            format_counts(entry["pristine"]),
            format_counts(entry["patched"]),
            len(entry["differing"]),
            len(entry["new_failures"]),
        )
        for series, summary in present.items()
        for name, entry in summary["packages"].items()
        if "error" not in entry
    ]
    not_run_rows = [
        f"- {series}, {name} {entry['version']}: not run ({entry['error']})"
        for series, summary in present.items()
        for name, entry in summary["packages"].items()
        if "error" in entry
    ]
    runs = "; ".join(
        f"series {series} against Django {s['version']}, Python {s['python']}"
        for series, s in present.items()
    )
    lines = [
        f"Each package's own tests from its PyPI sdist ({runs}):",
        "",
        markdown_table(
            (
                "series",
                "package",
                "version",
                "tests",
                "pristine",
                "patched",
                "outcomes differing",
                "new failures",
            ),
            rows,
        ),
    ]
    for series, summary in present.items():
        for name, entry in summary["packages"].items():
            lines += [
                f"- {series}, {name}: `{d['test']}` pristine {d['pristine']}, "
                f"patched {d['patched']}"
                for d in entry.get("differing", ())
            ]
    lines += not_run_rows
    if missing:
        lines += ["", missing]
    return "\n".join(lines)


BENCH = "python3 scripts/patchset.py bench"
# The tables of A8 (the chain build stays in BENCHMARKS.md).
BENCH_TABLES = (
    PER_REQUEST,
    DETECTION,
    HOPS,
    PYTHON_CALLS,
)


def bench_run_lines(present):
    """One line per bench run the summaries come from: command, date, machine."""
    runs = {}
    for series, summary in present.items():
        machine = summary["machine"]
        run = (
            f"`{summary['command']}`, {summary['measured']}, {machine['system']}, "
            f"{machine['cpus']} CPUs, load average {machine['load_at_start']:.2f} at the "
            f"start and {machine['load_at_end']:.2f} at the end"
        )
        runs.setdefault(run, []).append(series)
    return [f"- {run}: series {', '.join(series)}" for run, series in runs.items()]


def benchmarks_text(summaries):
    """A8 from the bench summaries ({series: summary or None}); the method and the
    chain build are in BENCHMARKS.md."""
    present, missing = run_and_missing(summaries)
    if not present:
        return not_run(BENCH)
    lines = [
        "Figures from `evidence/bench-<series>.json`, the method in `BENCHMARKS.md`, "
        "both written by",
        "",
        *bench_run_lines(present),
        "",
        results_tables(list(present.values()), BENCH_TABLES, heading="####"),
        targets_text(list(present.values()), heading="####").rstrip(),
    ]
    if missing:
        lines += ["", missing]
    return "\n".join(lines)


COST_SCENARIO = "wsgi_sync_view"


def cost_sentence(series, summary):
    if summary is None:
        return not_run(BENCH)
    scenario = next(s for s in summary["scenarios"] if s["scenario"] == COST_SCENARIO)
    calls = scenario["python_calls"]
    if scenario["instruction_ratio"] is None:
        instructions = "instructions not counted (bench ran with `--no-callgrind`)"
    else:
        instructions = (
            f"an instruction ratio of {scenario['instruction_ratio']:.5f} per request "
            f"(callgrind; the layouts' own spread is "
            f"±{scenario['layouts_spread_percent']:.3f}%)"
        )
    return (
        f"Middleware are classified once, when the chain is built; per request the "
        f"handler asks once about the view, as before, and for a function view that "
        f"adds one Python call (calls per request {calls['pristine']:g} → "
        f"{calls['patched']:g}, "
        f"{changes_text(scenario['python_call_changes'])}; "
        f"{scenario['title']} on Python {summary['python']}, "
        f"`evidence/bench-{series}.json`), {instructions}."
    )


# The ledger ---------------------------------------------------------------------


def ledger_bullets(release, short=False):
    changes, _ = read_ledger()
    bullets = []
    for entry in changes:
        if not entry.applies_to(release):
            continue
        cells = entry.cells
        if short:
            bullets.append(
                f"- `{entry.id}`: {cells['configuration']}; now {cells['after (series)']}"
            )
        else:
            bullets.append(
                f"- **`{entry.id}`**: {cells['configuration']}. Before: "
                f"{cells['before (release)']}. Now: {cells['after (series)']}. "
                f"Test: {cells['test']}."
            )
    return "\n".join(bullets)


def limitation_bullets(release):
    _, limitations = read_ledger()
    return "\n".join(
        f"- **`{entry.id}`**: {entry.cells['configuration']}: "
        f"{entry.cells['with the series']} ({entry.cells['why']})"
        for entry in limitations
        if entry.applies_to(release)
    )


def release_note_files(fork, release):
    """The release-notes files the series changes (the index aside)."""
    changed = git(
        ["diff", "--name-only", upstream_tag(release), "HEAD", "--", "docs/releases"], fork
    ).split()
    return [path for path in changed if not path.endswith("index.txt")]


def release_note_gaps(fork, release):
    """Ledger entries for the series whose release-note words are not in the
    series' release notes (markup, punctuation and line breaks aside)."""
    changes, _ = read_ledger()
    notes = " ".join((Path(fork) / path).read_text() for path in release_note_files(fork, release))
    # Words only: ":meth:`.Signal.send`" in the notes is "`Signal.send()`" in the ledger.
    # Dotted paths count by their last name.
    normalize = lambda text: " ".join(  # noqa: E731
        re.sub(
            r"[^a-z0-9_]+",
            " ",
            re.sub(r"[~.]?(?:\w+\.)+(\w+)", r"\1", re.sub(r":\w+:", " ", text.lower())),
        ).split()
    )
    notes = normalize(notes)
    gaps = []
    for entry in changes:
        if not entry.applies_to(release):
            continue
        quoted = re.findall(r'"([^"]+)"', entry.cells["release note"])
        words = [normalize(part) for q in quoted for part in q.split("...") if part.strip()]
        if not words or not all(word in notes for word in words):
            gaps.append(entry.id)
    return gaps


def realpackages_sentence(summary):
    """What the published-packages check measured on main, from its evidence."""
    if summary is None:
        return (
            "not run on the current patches "
            "(`python3 scripts/patchset.py realpackages --series main 6.1`)"
        )
    served = summary["served"]
    packages = ", ".join(f"{name} {v}" for name, v in sorted(summary["packages"].items()))
    return (
        f"{len(summary['packages'])} published packages ({packages}), "
        f"{summary['configurations']} configurations of their middleware (positions in "
        "startproject's `MIDDLEWARE`, WSGI and ASGI): served on the release "
        f"{served['release']}, with the series {served['series']}; worse than the release "
        f"outside LEDGER.md: {len(summary['worse_outside_ledger'])}"
    )


def differential_scope(summary):
    if summary is None:
        return "not run on the current patches"
    cases = sum(e["cases"] for e in summary["entry_points"].values())
    chains = sum(c["tried"] for c in summary["chains"].values())
    return (
        f"{cases:,} entry-point cases and {chains:,} middleware chains on main, "
        "and the same on each backport series"
    )


def fail_open_versions(releases, explored, ledger_id):
    """The releases on which the differential reproduced a ledger entry, with the
    Python it ran on."""
    found = []
    for series, summary in explored.items():
        if summary and summary["ledger_cases"].get(ledger_id):
            release = releases[series]
            name = release.version
            if release.stand_in:
                name = f"main (stand-in on {release.version})"
            found.append(f"Django {name} with Python {summary['python']}")
    return "; ".join(found) if found else "*not yet reproduced by `explore` on these patches*"


# The pull request ---------------------------------------------------------------


def pr_commits(fork, release):
    lines = []
    commits = git(
        ["log", "--reverse", "--format=%H %s", f"{upstream_tag(release)}..HEAD"], fork
    ).splitlines()
    for number, line in enumerate(commits, 1):
        sha, subject = line.split(" ", 1)
        stat = git(["show", "--shortstat", "--format=", sha], fork).strip()
        lines.append(f"{number}. {subject} ({stat})")
    return "\n".join(lines)


def plain_rst(text):
    """A checklist question without reST markup, up to its first question mark."""
    text = re.sub(r":\w+:`([^`<]+?)\s*<[^>]+>`", r"\1", text)
    text = re.sub(r":\w+:`([^`]+)`", r"\1", text)
    text = re.sub(r"`([^`]+)`_", r"\1", text)
    text = text.replace("``", "`")
    return text.split("?")[0] + "?" if "?" in text else text


def pr_checklist(fork, facts):
    lines, section = [], None
    for item_section, item in checklist_items(fork):
        if item_section != section:
            section = item_section
            lines.append(f"- *{section}*")
        mark, evidence = checklist_evidence(item, facts)
        box = {"x": "[x]", " ": "[ ]", "-": "[n/a]"}[mark]
        lines.append(f"  - {box} {plain_rst(item)} {evidence}")
    return "\n".join(lines)


# The checklist ----------------------------------------------------------------


def checklist_items(fork):
    """[(section, item text)] of the contribution checklist in the release's docs."""
    text = (Path(fork) / CHECKLIST_FILE).read_text()
    body = text.split(".. _patch-review-checklist:", 1)[1]
    items, section = [], None
    lines = body.splitlines()
    for index, line in enumerate(lines):
        if index + 1 < len(lines) and re.fullmatch(r"-{3,}", lines[index + 1]):
            section = line.strip()
        elif line.startswith("* ") and section:
            items.append([section, line[2:].strip()])
        elif line.startswith("  ") and items and section and line.strip():
            items[-1][1] += " " + line.strip()
        elif not line.strip():
            continue
    return [(s, re.sub(r"\s+", " ", t)) for s, t in items if s != "Deprecating a feature"]


FIXED_ANSWERS = {
    "commits": (
        " ",
        "— five commits, one per reviewable idea, each red/green on its own (A1); "
        "squash them if the reviewer prefers",
    ),
    "authors": (" ", "— yours to do (section 1)"),
    "ticket": (" ", "— not yet: the Forum discussion and a new ticket come first (section 1)"),
    "coverage": ("-", "— no coverage report exists before the pull request is opened"),
    "accessibility": ("-", "— no admin or HTML output changes"),
    "backport": (
        "-",
        "— not for backport: a new feature of 6.2 (`release-process.txt`); the "
        "repository's backports are for forks only",
    ),
}
# (words of a checklist item, the answer that item gets)
CHECKLIST_RULES = [
    ("single squashed commit", "commits"),
    ("authors", "authors"),
    ("accepted ticket", "ticket"),
    ("coding style", "lint"),
    ("backwards incompatible", "compatible"),
    ("test suite passing", "fullsuite"),
    ("code coverage", "coverage"),
    ("accessibility", "accessibility"),
    ("documentation build", "docs"),
    ("writing style", "docs_lint"),
    ("spelling", "spelling"),
    ("regression test", "redgreen"),
    ("backport", "backport"),
    ("exercise", "tests"),
    ("release note in ``docs/releases/a.b.txt``", "release_notes"),
    ("annotated", "annotations"),
]


def checklist_evidence(item, facts):
    """(mark, evidence) for one checklist item: 'x' shown done, ' ' not (yet) shown,
    '-' does not apply. Marks of measured items come from the measurements."""
    answers = {**FIXED_ANSWERS, **facts}
    for needle, key in CHECKLIST_RULES:
        if needle in item.lower():
            return answers[key]
    return (" ", "no evidence mapped for this item")


def mark(ok):
    return "x" if ok else " "


def lint_fact(summary):
    if summary is None or "main" not in summary:
        return " ", "— " + not_run("python3 scripts/patchset.py lint")
    entry = summary["main"]
    new = sum(value for tool, value in entry["new"].items() if tool in LINT_TOOLS)
    return mark(new == 0), (
        f"— {new} problems introduced in the {entry['files']} files the series touches "
        "(black, isort, flake8, blacken-docs, docs/lint.py, commit messages); zizmor: "
        "no workflow file touched (A4)"
    )


def docs_lint_fact(summary):
    if summary is None or "main" not in summary:
        return " ", "— " + not_run("python3 scripts/patchset.py lint")
    new = summary["main"]["new"]
    count = new.get("docs-lint", 0) + new.get("wrap-79", 0)
    return mark(count == 0), f"— docs/lint.py and the 79-column rule: {count} problems (A4)"


def fullsuite_fact(full):
    if full is None:
        return " ", "— " + not_run("python3 scripts/patchset.py fullsuite --series main")
    failing = len(full.get("failing_on_both", []))
    unloaded = len(full["load_failures"])
    passing = not failing and not unloaded and full["ok"]
    return mark(passing), (
        f"— {len(full['differing'])} of {full['tests_patched']:,} outcomes differ from "
        f"the pristine release; {failing} tests fail on both trees here and "
        f"{unloaded} module loads failed on either tree, named in A6"
    )


def redgreen_fact(commits):
    if commits is None:
        return " ", "— " + not_run("python3 scripts/patchset.py commits --series main")
    red_green = sum(commit["red_green"] for commit in commits["commits"])
    return mark(commits["ok"]), (
        f"— {red_green} new tests fail without their commit and pass with it (A1)"
    )


def call_sites_fact(mutate, tests):
    if mutate is None:
        return " ", "— " + not_run("python3 scripts/patchset.py mutate --series main")
    return mark(mutate["ok"]), (
        f"— {len(tests)} new tests; {mutate['killed']} of {mutate['sites']} call sites "
        "fail a test when reverted (A2)"
    )


def docs_fact(docs, target):
    if docs is None:
        return " ", "— " + not_run("python3 scripts/patchset.py docs --series main")
    result = docs[target]
    if "skipped" in result:
        return " ", f"— `make {target}` skipped: {result['skipped']} (A5)"
    return mark(not result["new"]), f"— `make {target}`: {len(result['new'])} new warnings (A5)"


def facts_for(fork, release, tests, evidence):
    notes = release_note_files(fork, release)
    diff = git(["diff", "-U0", upstream_tag(release), "HEAD", "--", "docs"], fork)
    annotated = sorted(
        {line[1:].strip() for line in diff.splitlines() if line.startswith("+.. version")}
    )
    gaps = release_note_gaps(fork, release)
    return {
        "lint": lint_fact(evidence["lint"]),
        "docs_lint": docs_lint_fact(evidence["lint"]),
        "compatible": (
            mark(not gaps and bool(notes)),
            "— every LEDGER.md entry for main is in `docs/releases/6.2.txt`"
            if not gaps
            else f"— missing from the release notes: {', '.join(gaps)}",
        ),
        "fullsuite": fullsuite_fact(evidence["fullsuite"]),
        "docs": docs_fact(evidence["docs"], "html"),
        "spelling": docs_fact(evidence["docs"], "spelling"),
        "redgreen": redgreen_fact(evidence["commits"]),
        "tests": call_sites_fact(evidence["mutate"], tests),
        "release_notes": (mark(bool(notes)), f"— {', '.join(f'`{n}`' for n in notes)}"),
        "annotations": (
            mark(bool(annotated)),
            f"— {', '.join(f'`{a}`' for a in annotated)} in the changed topics",
        ),
    }


def pr_proof(commits, mutate, ecosystem):
    """The pull request's evidence sentences, each from a summary a command wrote."""
    if commits is None:
        first = "Red/green per commit: " + not_run("python3 scripts/patchset.py commits")
    elif commits["ok"]:
        first = (
            "Each commit's new tests fail without it and pass with it "
            "([A1](#a1-red-and-green-per-commit))"
        )
    else:
        first = (
            "Some commit's new tests are not red then green ([A1](#a1-red-and-green-per-commit))"
        )
    if mutate is None:
        second = "call sites: " + not_run("python3 scripts/patchset.py mutate")
    elif mutate["killed"] == mutate["sites"]:
        second = (
            f"reverting any one of the {mutate['sites']} call sites alone fails a test "
            "([A2](#a2-each-call-site-reverted))"
        )
    else:
        second = (
            f"reverting a call site alone fails a test for only {mutate['killed']} of "
            f"{mutate['sites']} ([A2](#a2-each-call-site-reverted))"
        )
    ran = [
        (series, name, entry)
        for series, summary in ecosystem.items()
        if summary
        for name, entry in summary["packages"].items()
        if "error" not in entry
    ]
    if not ran:
        third = "Third-party suites: " + not_run("python3 scripts/patchset.py ecosystem")
    else:
        names = sorted({name for _, name, _ in ran})
        differing = sum(len(entry["differing"]) for _, _, entry in ran)
        series = sorted({series for series, _, _ in ran})
        third = (
            f"The own test suites of {len(names)} third-party packages ({', '.join(names)}), "
            f"on series {' and '.join(series)}: {differing} outcomes differ from the pristine "
            "release ([A7](#a7-third-party-packages))"
        )
    return f"{first}; {second}. {third}."


PR_MAX_LINES = 70


def pr_section_lines(document):
    start, end = document.index("<!-- pr:start -->"), document.index("<!-- pr:end -->")
    return len(document[start:end].splitlines()) - 1


def short_outcome(outcome):
    return outcome["error"] if "error" in outcome else f"HTTP {outcome['status']}"


# The command ------------------------------------------------------------------


def build_document(manifest, workspace, generated_on):
    releases = dict(manifest.releases)
    forks = {
        series: materialize_fork(workspace.fork(release), release)
        for series, release in releases.items()
    }
    main = manifest.main_release
    fork = forks[main.series]
    reverted = build_reverted_tree(fork, main)
    # The demo's asgiref is pinned, so the document does not change when it releases.
    python = fork_interpreter(main, workspace, fork, None, "demo", DEMO_REQUIREMENTS)
    pristine_demo = run_demo(python, reverted, True)
    patched_demo = run_demo(python, fork, True)
    tests_by_series = new_tests_by_series(forks, releases)
    backport = manifest.default_series
    evidence = {
        "fullsuite": read_evidence(f"fullsuite-{main.series}"),
        "docs": read_evidence(f"docs-{main.series}"),
        "commits": read_evidence(f"commits-{main.series}"),
        "mutate": read_evidence(f"mutate-{main.series}"),
        "lint": read_evidence("lint"),
    }
    explored = {series: read_evidence(f"explore-{series}") for series in releases}
    benchmarks = {series: read_evidence(f"bench-{series}") for series in releases}
    ecosystem = {
        series: read_evidence(f"ecosystem-{series}") for series in (main.series, backport)
    }
    facts = facts_for(fork, main, tests_by_series[main.series], evidence)
    changes, _ = read_ledger()
    fail_open = next(entry for entry in changes if entry.id == FAIL_OPEN)
    values = {
        "generated_on": generated_on,
        "base_version": main.version,
        "fail_open_test": re.findall(r"`([^`]+)`", fail_open.cells["test"])[0],
        "fail_open_versions": fail_open_versions(releases, explored, FAIL_OPEN),
        "demo_version": pristine_demo["version"],
        "demo_asgiref": pristine_demo["asgiref"],
        "demo_pristine_asgi": served(pristine_demo["asgi"]),
        "demo_pristine_wsgi": served(pristine_demo["wsgi"]),
        "demo_pristine_asgi_short": short_outcome(pristine_demo["asgi"]),
        "demo_pristine_wsgi_short": short_outcome(pristine_demo["wsgi"]).split(". ")[0],
        "demo_asgiref_check": pristine_demo["asgiref_check"],
        "demo_patched_asgi": served(patched_demo["asgi"]),
        "demo_patched_wsgi": served(patched_demo["wsgi"]),
        "demo_patched_class_asgi_short": (
            f"the class, {short_outcome(patched_demo['class_asgi'])}; the attribute, "
            f"{short_outcome(patched_demo['attribute_asgi'])}"
        ),
        "ledger_changes": ledger_bullets(main),
        "ledger_limitations": limitation_bullets(main),
        "differential_scope": differential_scope(explored[main.series]),
        "realpackages": realpackages_sentence(read_evidence(f"realpackages-{main.series}")),
        "cost_sentence": cost_sentence(main.series, benchmarks[main.series]),
        "pr_commits": pr_commits(fork, main),
        "pr_proof": pr_proof(evidence["commits"], evidence["mutate"], ecosystem),
        "pr_ledger": ledger_bullets(main, short=True),
        "pr_checklist": pr_checklist(fork, facts),
        "commits": commits_text(evidence["commits"]),
        "mutate": mutate_text(evidence["mutate"]),
        "explore": explore_text(explored),
        "lint": lint_text(evidence["lint"]),
        "docs": docs_text(evidence["docs"]),
        "fullsuite": fullsuite_text(evidence["fullsuite"]),
        "ecosystem": ecosystem_text(ecosystem),
        "benchmarks": benchmarks_text(benchmarks),
        "call_sites": call_sites_text({main.series: fork}),
        "remaining_sites": remaining_sites_text({main.series: fork}),
        "new_tests": new_tests_text(tests_by_series),
        "false_positive_tests": tests_matching(
            tests_by_series[main.series], ["test_inspect"], FALSE_POSITIVE_WORDS
        ),
    }
    document = render(TEMPLATE.read_text(), values)
    lines = pr_section_lines(document)
    if lines > PR_MAX_LINES:
        raise CommandError(
            f"the pull request description would be {lines} lines (at most {PR_MAX_LINES})",
            f"shorten section 4 of {TEMPLATE.name}",
        )
    return document


def generated_date(text):
    """The date a generated UPSTREAM.md gives for itself, or None."""
    found = re.search(r"when this file was generated\s+\((\d{4}-\d{2}-\d{2})\)", text)
    return found.group(1) if found else None


def write_case(manifest, workspace, check):
    """Write UPSTREAM.md, or with check compare it (its own date aside: the check
    runs on later days) and exit 1 if it differs."""
    target = upstream_path()
    existing = target.read_text() if target.exists() else ""
    today = datetime.date.today().isoformat()
    document = build_document(manifest, workspace, (check and generated_date(existing)) or today)
    if check:
        if existing != document:
            raise CommandError(
                f"{target.name} is not what the template and evidence give",
                "run `python3 scripts/patchset.py case` and commit it",
            )
        return Outcome(True, [f"{target.name} is up to date."], verdict=False)
    target.write_text(document)
    return Outcome(True, [f"Wrote {target}"], verdict=False)
