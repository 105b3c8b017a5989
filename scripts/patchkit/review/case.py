"""UPSTREAM.md, the case for the change, regenerated from scripts/case_template.md:
figures come from the checks' JSON summaries (evidence/), BENCHMARKS.md, the
patched trees (call sites, new tests, docs) and a request actually served by the
pristine and the patched Django."""

import ast
import datetime
import json
import os
import re
import subprocess
from pathlib import Path

from patchkit.core.errors import OperationError
from patchkit.core.evidence import LINT_TOOLS, read_evidence
from patchkit.core.fork import (
    build_reverted_tree,
    git,
    materialize_fork,
    new_test_ids,
    upstream_tag,
)
from patchkit.core.manifest import PAYLOADS_DIR, PROJECT_DIR, SCRIPTS_DIR, project_dir
from patchkit.core.report import markdown_table
from patchkit.core.workspace import fork_interpreter

TEMPLATE = SCRIPTS_DIR / "case_template.md"
DEMO = PAYLOADS_DIR / "case_worker" / "callable_view_demo.py"
DEMO_REQUIREMENTS = PROJECT_DIR / "requirements" / "case-demo.txt"
HELPER = "is_coroutine_callable"
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


def added_docs_paragraph(fork, release, path, needle):
    """The paragraph of the patched docs file holding needle, as a quote."""
    text = (Path(fork) / path).read_text()
    for paragraph in re.split(r"\n\s*\n", text):
        if needle in paragraph:
            return "\n".join("> " + line.strip() for line in paragraph.splitlines())
    raise OperationError(
        f"{needle!r} is not in {path} of series {release.series}",
        f"update {TEMPLATE.name} to what the docs say now",
    )


def added_docs_lines(fork, release, path):
    diff = git(["diff", "-U0", upstream_tag(release), "HEAD", "--", path], fork)
    added = [
        line[1:]
        for line in diff.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]
    return "\n".join("> " + line if line.strip() else ">" for line in added)


# A request served by each tree -------------------------------------------------


def run_demo(python, tree, import_from_tree):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree) if import_from_tree else ""
    completed = subprocess.run(
        [python, str(DEMO)], env=env, cwd=DEMO.parent, capture_output=True, text=True
    )
    if completed.returncode != 0:
        raise OperationError(
            f"the callable view demo failed:\n{completed.stderr}", f"run {DEMO} by hand"
        )
    result = json.loads(completed.stdout)
    if Path(result["django"]).parent != Path(tree) / "django":
        raise OperationError(
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
    counts = lambda c: ", ".join(f"{n} {k}" for k, n in c.items())  # noqa: E731
    lines = [
        f"Django's whole suite (`python3 scripts/patchset.py fullsuite`, {summary['date']}, "
        f"{summary['minutes']} minutes), series {summary['series']} against Django "
        f"{summary['version']}, Python {summary['python']}:",
        "",
        markdown_table(
            ("tree", "tests", "outcomes"),
            [
                ("pristine", summary["tests_pristine"], counts(summary["pristine"])),
                ("patched", summary["tests_patched"], counts(summary["patched"])),
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
    return "\n".join(lines)


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


def ecosystem_text(summary):
    if summary is None:
        return not_run("python3 scripts/patchset.py ecosystem")
    counts = lambda c: ", ".join(f"{n} {k}" for k, n in c.items())  # noqa: E731
    rows = [
        (
            name,
            entry["version"],
            entry["tests"],
            counts(entry["pristine"]),
            counts(entry["patched"]),
            len(entry["differing"]),
            len(entry["new_failures"]),
        )
        for name, entry in summary["packages"].items()
    ]
    return (
        f"Each package's own tests from its PyPI sdist, series {summary['series']} "
        f"against Django {summary['version']}, Python {summary['python']}:\n\n"
        + markdown_table(
            (
                "package",
                "version",
                "tests",
                "pristine",
                "patched",
                "outcomes differing",
                "new failures",
            ),
            rows,
        )
    )


def benchmarks_text():
    path = project_dir() / "BENCHMARKS.md"
    if not path.exists():
        return not_run("python3 scripts/patchset.py bench")
    text = path.read_text()
    sections = re.split(r"(?m)^(?=## )", text)
    wanted = [
        s.strip() for s in sections if re.match(r"## .*(request|[Dd]etection|[Hh]op|[Tt]arget)", s)
    ]
    body = "\n\n".join(wanted) if wanted else text.strip()
    # Demote the headings under this document's own.
    return re.sub(r"(?m)^## ", "#### ", body)


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
    "authors": ("-", "to do by the submitter when opening the pull request"),
    "ticket": (
        " ",
        "#34328 was closed with a documentation fix; the change needs a "
        "Forum discussion and a new accepted ticket first",
    ),
    "coverage": ("-", "no coverage report outside Django's CI"),
    "accessibility": ("-", "no admin or HTML output change"),
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
    ("backport", "release_notes"),
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


def checklist_text(fork, facts):
    lines, section = [], None
    for item_section, item in checklist_items(fork):
        if item_section != section:
            section = item_section
            lines += ["", f"**{section}**", ""]
        mark, evidence = checklist_evidence(item, facts)
        box = "[x]" if mark == "x" else "[ ]" if mark == " " else "[n/a]"
        lines.append(f"- {box} {item}\n  - *Evidence:* {evidence}")
    return "\n".join(lines).strip()


def release_notes(forks, releases):
    notes = []
    for series, fork in forks.items():
        changed = git(
            ["diff", "--name-only", upstream_tag(releases[series]), "HEAD", "--", "docs/releases"],
            fork,
        ).split()
        notes += [f"{series}: `{path}`" for path in changed if not path.endswith("index.txt")]
    return notes


def annotations(forks, releases):
    found = []
    for series, fork in forks.items():
        diff = git(
            ["diff", "-U0", upstream_tag(releases[series]), "HEAD", "--", "docs/topics"], fork
        )
        found += sorted(
            {
                f"{series}: `{line[1:].strip()}`"
                for line in diff.splitlines()
                if line.startswith("+.. version")
            }
        )
    return found


def lint_fact(summary):
    if summary is None:
        return " ", not_run("python3 scripts/patchset.py lint")
    new = sum(sum(entry["new"].values()) for entry in summary.values())
    return mark(new == 0), (
        f"{new} problems introduced in the files the patches touch, over "
        f"{len(summary)} series (black, isort, flake8, blacken-docs, docs/lint.py, "
        "commit messages; section 4); zizmor: the patches touch no workflow file"
    )


def docs_lint_fact(summary):
    if summary is None:
        return " ", not_run("python3 scripts/patchset.py lint")
    new = sum(
        entry["new"].get("docs-lint", 0) + entry["new"].get("wrap-79", 0)
        for entry in summary.values()
    )
    return mark(new == 0), (
        f"Django's docs/lint.py (79 columns, sphinx-lint) and the "
        f"79-column rule for comments and docstrings: {new} problems"
    )


def fullsuite_fact(full):
    if full is None:
        return " ", not_run("python3 scripts/patchset.py fullsuite")
    return mark(full["ok"]), (
        f"whole suite, {full['tests_patched']} tests: "
        f"{len(full['differing'])} outcomes differ from pristine "
        f"{full['version']}"
    )


def docs_fact(docs, target):
    if docs is None:
        return " ", not_run("python3 scripts/patchset.py docs")
    result = docs[target]
    if "skipped" in result:
        return " ", f"`make {target}` skipped: {result['skipped']}"
    offline = result.get("offline_only", [])
    return mark(not result["new"]), (
        f"`make {target}`: {len(result['new'])} new warnings "
        f"({result['warnings_patched']} patched, {result['warnings_pristine']} pristine)"
        + (
            f"; {len(offline)} more are standard library references left unresolved "
            "because intersphinx could not download Python's inventory here"
            if offline
            else ""
        )
        + "".join(f"\n    - `{line}`" for line in result["new"])
    )


def facts_for(forks, releases, tests_by_series, evidence):
    full, docs = evidence["fullsuite"], evidence["docs"]
    notes = release_notes(forks, releases)
    annotated = annotations(forks, releases)
    return {
        "commits": (
            "-",
            "the main series keeps one commit per reviewable idea "
            "(handlers, decorators, signals, load-time check), each red/green "
            "on its own (`python3 scripts/patchset.py commits --series main`)",
        ),
        "lint": lint_fact(evidence["lint"]),
        "docs_lint": docs_lint_fact(evidence["lint"]),
        "compatible": (
            "x",
            "the behaviour changes of working configurations are listed "
            "in LEDGER.md, each with its test, and announced under "
            '"Backwards incompatible changes in 6.2" in '
            "docs/releases/6.2.txt",
        ),
        "fullsuite": fullsuite_fact(full),
        "docs": docs_fact(docs, "html"),
        "spelling": docs_fact(docs, "spelling"),
        "redgreen": (
            mark(full["red_green"] == full["new_tests"]),
            f"{full['red_green']} of {full['new_tests']} new tests fail on "
            f"pristine {full['version']} and pass patched (whole suite run); every "
            "series and Python: `python3 scripts/patchset.py redgreen`",
        )
        if full
        else (" ", "`python3 scripts/patchset.py redgreen`"),
        "tests": (
            "x",
            ", ".join(
                f"{series}: {len(tests)} new tests" for series, tests in tests_by_series.items()
            ),
        ),
        "release_notes": (mark(len(notes) == len(forks)), "; ".join(notes)),
        "annotations": (mark(len(annotated) >= len(forks)), "; ".join(annotated)),
    }


# The command ------------------------------------------------------------------


def build_document(manifest, workspace, generated_on):
    releases = dict(manifest.releases)
    forks = {
        series: materialize_fork(workspace.fork(release), release)
        for series, release in releases.items()
    }
    default = manifest.release()
    default_fork = forks[default.series]
    reverted = build_reverted_tree(default_fork, default)
    # The demo's asgiref is pinned, so the document does not change when it releases.
    python = fork_interpreter(default, workspace, default_fork, None, "demo", DEMO_REQUIREMENTS)
    pristine_demo = run_demo(python, reverted, True)
    patched_demo = run_demo(python, default_fork, True)
    tests_by_series = new_tests_by_series(forks, releases)
    default_tests = tests_by_series[default.series]
    evidence = {
        name: read_evidence(f"{name}-{default.series}")
        for name in ("fullsuite", "docs", "ecosystem")
    }
    evidence["lint"] = read_evidence("lint")
    facts = facts_for(forks, releases, tests_by_series, evidence)
    values = {
        "generated_on": generated_on,
        "demo_version": pristine_demo["version"],
        "demo_asgiref": pristine_demo["asgiref"],
        "demo_pristine_asgi": served(pristine_demo["asgi"]),
        "demo_pristine_wsgi": served(pristine_demo["wsgi"]),
        "demo_asgiref_check": pristine_demo["asgiref_check"],
        "demo_patched_asgi": served(patched_demo["asgi"]),
        "demo_patched_wsgi": served(patched_demo["wsgi"]),
        "checklist_version": default.version,
        "checklist": checklist_text(default_fork, facts),
        "call_sites": call_sites_text(forks),
        "remaining_sites": remaining_sites_text(forks),
        "false_positive_tests": tests_matching(
            default_tests, ["test_inspect"], FALSE_POSITIVE_WORDS
        ),
        "signal_tests": tests_matching(default_tests, ["signals", "dispatch"]),
        "signals_docs": added_docs_lines(default_fork, default, "docs/topics/signals.txt"),
        "benchmarks": benchmarks_text(),
        "shared_state_docs": added_docs_paragraph(
            default_fork, default, "docs/topics/async.txt", "per-request state"
        ),
        "fullsuite": fullsuite_text(evidence["fullsuite"]),
        "new_tests": new_tests_text(tests_by_series),
        "lint": lint_text(evidence["lint"]),
        "docs": docs_text(evidence["docs"]),
        "ecosystem": ecosystem_text(evidence["ecosystem"]),
    }
    return render(TEMPLATE.read_text(), values)


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
            raise OperationError(
                f"{target.name} is not what the template and evidence give",
                "run `python3 scripts/patchset.py case` and commit it",
            )
        print(f"{target.name} is up to date.")
        return 0
    target.write_text(document)
    print(f"Wrote {target}")
    return 0
