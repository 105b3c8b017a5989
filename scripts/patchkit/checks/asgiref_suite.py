"""`asgiref`: asgiref's own test suite, red/green, on each of its Pythons. The
fork (patches/asgiref/ on the pinned sdist) and a pristine tree (asgiref/ as
released, the series' tests/) run under one virtualenv per Python that holds
asgiref's test requirements but not asgiref: each run imports asgiref from its
tree. Rules: every test passes on the patched tree (a skip or xfail only where
it is the same on the release); every test function the series adds has at least
one item that fails on the release; every other test has the same outcome on
both trees."""

import ast
import dataclasses
import os
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from patchkit.core.errors import CommandError
from patchkit.core.fork import git, upstream_tag
from patchkit.core.git import GitError
from patchkit.core.interpreters import base_interpreter, python_version_of, selected_pythons
from patchkit.core.manifest import PROJECT_DIR
from patchkit.core.report import Outcome, progress, text_table
from patchkit.core.runtests import FAILING_OUTCOMES, stream_command
from patchkit.core.venvs import create_venv, ensure_pip, run_checked
from patchkit.core.workspace import prepare_trees

ASGIREF_TEST_REQUIREMENTS = PROJECT_DIR / "requirements" / "asgiref-tests.txt"


def defined_pytest_functions(path, source):
    """`path::name` of every module-level test function and `path::Class::name`
    of every test method of a Test* class."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    found = set()
    for node in tree.body:
        if isinstance(node, functions) and node.name.startswith("test"):
            found.add(f"{path}::{node.name}")
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            found |= {
                f"{path}::{node.name}::{item.name}"
                for item in node.body
                if isinstance(item, functions) and item.name.startswith("test")
            }
    return found


def new_test_functions(fork, release):
    """Test functions in the series' tests/ that the release's tests/ lacks."""
    changed = git(
        ["diff", "--name-only", "--diff-filter=AM", upstream_tag(release), "HEAD", "--", "tests"],
        fork,
    ).split()
    new = set()
    for path in changed:
        if not path.endswith(".py"):
            continue
        try:
            released = git(["show", f"{upstream_tag(release)}:{path}"], fork)
        except GitError:  # a new file
            released = ""
        patched = defined_pytest_functions(path, git(["show", f"HEAD:{path}"], fork))
        new |= patched - defined_pytest_functions(path, released)
    return new


def function_of(item_id):
    """The test function of a pytest item id (its parameters dropped)."""
    return item_id.split("[", 1)[0]


def junit_outcomes(report_path):
    """{pytest item id: pass | fail | error | skip | xfail} from a JUnit XML report."""
    outcomes = {}
    for case in ElementTree.parse(report_path).getroot().iter("testcase"):
        path = case.get("classname", "").replace(".", "/")
        parts = path.split("/")
        # classname is tests.test_x or tests.test_x.TestClass
        module = "/".join(p for p in parts if not p[:1].isupper()) + ".py"
        classes = [p for p in parts if p[:1].isupper()]
        item = "::".join([module, *classes, case.get("name", "")])
        children = {child.tag: child for child in case}
        if "error" in children:
            outcome = "error"
        elif "failure" in children:
            outcome = "fail"
        elif "skipped" in children:
            kind = children["skipped"].get("type", "")
            outcome = "xfail" if "xfail" in kind else "skip"
        else:
            outcome = "pass"
        outcomes[item] = outcome
    return outcomes


def run_pytest(interpreter, tree, report_path, title):
    """asgiref's suite in tree, asgiref imported from tree; {item id: outcome}."""
    progress(f"\n=== {title} ===")
    report_path = Path(report_path)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [str(interpreter), "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["--junitxml", str(report_path), "-o", "junit_family=xunit1"]
    status, output = stream_command(command, tree, env)
    if not report_path.exists():
        raise CommandError(
            f"pytest wrote no report in {tree} (status {status}):\n{output[-2000:]}",
            "run the command again with the interpreter named to see pytest's error",
        )
    return junit_outcomes(report_path)


@dataclasses.dataclass
class SuiteCell:
    python: str
    patched: dict
    pristine: dict
    new_functions: set
    problems: list = dataclasses.field(default_factory=list)

    @property
    def ok(self):
        return bool(self.patched) and not self.problems


def judge(cell):
    """Apply the module docstring's rules to one Python's two runs."""
    problems = []
    for item, outcome in sorted(cell.patched.items()):
        before = cell.pristine.get(item)
        if outcome in FAILING_OUTCOMES:
            problems.append(f"{item}: {outcome} on the patched tree")
        elif function_of(item) not in cell.new_functions and before not in (None, outcome):
            problems.append(f"{item}: released {before}, patched {outcome}")
        elif outcome in {"skip", "xfail"} and before != outcome:
            problems.append(f"{item}: {outcome} on the patched tree only")
    for function in sorted(cell.new_functions):
        items = [item for item in cell.pristine if function_of(item) == function]
        if not items:
            problems.append(f"{function}: not run on the release")
        elif not any(cell.pristine[item] in FAILING_OUTCOMES for item in items):
            problems.append(f"{function}: passes on the release (red expected)")
    cell.problems = problems
    return cell


def asgiref_interpreter(release, workspace, python):
    """A virtualenv of Python X.Y with asgiref's pinned test requirements."""
    base = base_interpreter(release, python)
    venv = workspace.venv("asgiref-tests", python_version_of(base))
    interpreter = create_venv(base, venv)
    ensure_pip(interpreter)
    progress(f"Installing {ASGIREF_TEST_REQUIREMENTS.name} into {interpreter}...")
    run_checked(
        [str(interpreter), "-m", "pip", "install", "-q", "-r", str(ASGIREF_TEST_REQUIREMENTS)],
        f"installing {ASGIREF_TEST_REQUIREMENTS.name}",
        "check the pip output above; PyPI must be reachable",
    )
    return interpreter


def run_asgiref_suite(manifest, pythons, workspace):
    """Red/green of asgiref's suite on each requested Python; the exit status."""
    release = manifest.asgiref
    if release is None:
        raise CommandError.usage(
            "scripts/releases.json pins no asgiref release", "add its asgiref entry"
        )
    chosen = selected_pythons(release, pythons)
    if not chosen:
        raise CommandError.usage(
            f"none of the Pythons {', '.join(pythons)} runs asgiref {release.version}",
            f"use one of {', '.join(release.pythons)} (its Requires-Python)",
        )
    trees = prepare_trees(release, workspace)
    new_functions = new_test_functions(trees.fork, release)
    cells = []
    for python in chosen:
        interpreter = asgiref_interpreter(release, workspace, python)
        version = python_version_of(interpreter)
        reports = workspace.root / "asgiref-reports"
        patched = run_pytest(
            interpreter,
            trees.fork,
            reports / f"patched-py{version}.xml",
            f"asgiref series, Python {version}: patched tree",
        )
        pristine = run_pytest(
            interpreter,
            trees.reverted,
            reports / f"pristine-py{version}.xml",
            f"asgiref series, Python {version}: asgiref/ as released",
        )
        cells.append(judge(SuiteCell(version, patched, pristine, new_functions)))
    ok = all(cell.ok for cell in cells)
    return Outcome(
        ok,
        matrix_lines(release, cells, new_functions),
        detail=f"{sum(c.ok for c in cells)}/{len(cells)} Pythons",
    )


def matrix_lines(release, cells, new_functions):
    def count(outcomes, wanted, only_new=False):
        return sum(
            1
            for item, outcome in outcomes.items()
            if outcome in wanted and (not only_new or function_of(item) in new_functions)
        )

    rows = [("asgiref", "Python", "patched pass", "new items red on release", "verdict")]
    for cell in cells:
        new_items = count(cell.patched, {"pass", "fail", "error", "skip", "xfail"}, True)
        rows.append(
            (
                release.version,
                cell.python,
                f"{count(cell.patched, {'pass'})}/{len(cell.patched)}",
                f"{count(cell.pristine, FAILING_OUTCOMES, True)}/{new_items}",
                "OK" if cell.ok else "FAILED",
            )
        )
    lines = [
        "",
        f"Red/green of asgiref's own suite, patches/asgiref/ on asgiref {release.version}",
        text_table(rows, rule=True),
    ]
    lines.append(f"New test functions: {', '.join(sorted(new_functions)) or 'none'}")
    for cell in cells:
        for problem in cell.problems:
            lines.append(f"  py{cell.python}: {problem}")
    return lines
