"""`neutralise`: every view decorator the series changes is needed by a test.

What `mutate` does for call sites, this does for tests: each decorator whose
definition the series' diff touches (in django/views/decorators/, the auth
decorators and django/utils/decorators.py) is made to hand back the view it is
given, unchanged, in a scratch copy of the patched tree; at least one of the
series' new tests must then fail. A decorator that survives has no test of its
own effect (its header, its rejection, its cache hit), only of the view's body.
"""

import ast
import concurrent.futures
import dataclasses
import fnmatch
import os
import queue
import re
import tempfile
from pathlib import Path

from patchkit.core.errors import CommandError
from patchkit.core.fork import extract_commit, git, new_test_ids, upstream_tag
from patchkit.core.git import GitError
from patchkit.core.interpreters import python_version_of
from patchkit.core.report import check_outcome, progress, text_table
from patchkit.core.runtests import FAILING_OUTCOMES, ProgressBoard, run_in_scratch_tree
from patchkit.core.workspace import prepare

# Where Django defines the decorators a view can be given.
DECORATOR_FILES = (
    "django/views/decorators/*.py",
    "django/contrib/auth/decorators.py",
    "django/utils/decorators.py",
)
DECORATOR_ROOTS = ("django/views/decorators", "django/contrib/auth", "django/utils")
HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def in_scope(path):
    return any(fnmatch.fnmatch(path, pattern) for pattern in DECORATOR_FILES)


# Which decorators the series changes: from its diff, never a hand list ----------


def touched_lines(diff):
    """{path: (old line numbers removed, new line numbers added)} of a -U0 diff."""
    touched, old_path, new_path = {}, None, None
    for text in diff.splitlines():
        if text.startswith("--- "):
            old_path = None if text == "--- /dev/null" else text[len("--- a/") :]
        elif text.startswith("+++ "):
            new_path = None if text == "+++ /dev/null" else text[len("+++ b/") :]
        elif match := HUNK.match(text):
            old_start, old_count, new_start, new_count = match.groups()
            old_count = 1 if old_count is None else int(old_count)
            new_count = 1 if new_count is None else int(new_count)
            path = new_path or old_path
            removed, added = touched.setdefault(path, (set(), set()))
            removed.update(range(int(old_start), int(old_start) + old_count))
            added.update(range(int(new_start), int(new_start) + new_count))
    return touched


def top_level_functions(source):
    """{name: ast.FunctionDef} of a module's top-level functions (none if it does
    not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    return {
        node.name: node
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }


def function_lines(node):
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return range(first, node.end_lineno + 1)


def defines_function(node):
    return any(
        isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for inner in ast.walk(node)
        if inner is not node
    )


def called_names(node):
    return {
        call.func.id
        for call in ast.walk(node)
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
    }


def decorator_names(functions):
    """Which of {name: FunctionDef} are decorators: those that define the wrapper
    (a nested function), and those that get one from a decorator (login_required
    from user_passes_test, decorator_from_middleware from make_middleware_decorator)."""
    names = {name for name, node in functions.items() if defines_function(node)}
    while True:
        more = {
            name
            for name, node in functions.items()
            if name not in names and called_names(node) & names
        }
        if not more:
            return names
        names |= more


@dataclasses.dataclass(frozen=True)
class Decorator:
    path: str
    name: str
    line: int  # of its def, in the patched file

    @property
    def label(self):
        return f"{self.name} ({self.path}:{self.line})"


def decorators_touched(diff, old_sources, new_sources):
    """(decorators, other functions) the diff touches among the top-level functions
    of the decorator files: a function is touched when a line of its definition is
    added or changed (new file), or removed (old file). new_sources: {path: source}
    of every decorator file after the diff (decorators are recognised across files),
    old_sources: before it ({path: source}, a path missing if it is new)."""
    new_functions = {path: top_level_functions(source) for path, source in new_sources.items()}
    known = decorator_names(
        {name: node for functions in new_functions.values() for name, node in functions.items()}
    )
    decorators, others = [], []
    for path, (removed, added) in sorted(touched_lines(diff).items()):
        if path not in new_functions:
            continue  # not a decorator file, or deleted
        old_functions = top_level_functions(old_sources.get(path, ""))
        names = {
            name for name, node in new_functions[path].items() if added & set(function_lines(node))
        } | {
            name
            for name, node in old_functions.items()
            if removed & set(function_lines(node)) and name in new_functions[path]
        }
        for name in sorted(names, key=lambda name: new_functions[path][name].lineno):
            entry = Decorator(path, name, new_functions[path][name].lineno)
            (decorators if name in known else others).append(entry)
    return decorators, others


def series_decorators(fork, release, head="HEAD"):
    """decorators_touched() for the series applied in fork."""
    base = upstream_tag(release)
    listed = git(["ls-tree", "-r", "--name-only", head, "--", *DECORATOR_ROOTS], fork)
    paths = [path for path in listed.splitlines() if in_scope(path)]
    diff = git(["diff", "-U0", base, head, "--", *paths], fork)
    new_sources = {path: git(["show", f"{head}:{path}"], fork) for path in paths}
    old_sources = {}
    for path in paths:
        try:
            old_sources[path] = git(["show", f"{base}:{path}"], fork)
        except GitError:
            pass  # the series adds the file
    return decorators_touched(diff, old_sources, new_sources)


# The neutralised decorator -----------------------------------------------------

# Inserted right after the decorator's definition, so that the module's own uses
# (vary_on_cookie = vary_on_headers("Cookie"), csp_override() calling
# _make_csp_decorator()) and every importer get the neutralised one. It calls the
# original to learn what it was given: Django's decorators return functools.wraps()
# of the view (or the view itself), so a result that wraps one of the arguments
# means that argument was the view, and it is handed back unchanged; any other
# callable result is a decorator still waiting for its view (cache_page(60),
# require_http_methods(["GET"]), make_middleware_decorator(M)()), neutralised in
# turn. Each view handed back is written down in HITS, so a decorator that no new
# test applies cannot count as killed.
NEUTRALISER = """

def _patchset_neutralised(original, name={name!r}, hits={hits!r}):
    def neutralised(*args, **kwargs):
        result = original(*args, **kwargs)
        wrapped = getattr(result, "__wrapped__", result)
        for argument in (*args, *kwargs.values()):
            if argument is result or argument is wrapped:
                with open(hits, "a") as file:
                    file.write(name + "\\n")
                return argument
        if callable(result):
            return _patchset_neutralised(result, name, hits)
        return result

    neutralised.__name__ = getattr(original, "__name__", name)
    neutralised.__qualname__ = getattr(original, "__qualname__", name)
    neutralised.__doc__ = getattr(original, "__doc__", None)
    return neutralised


{name} = _patchset_neutralised({name})
"""


def neutralised_source(source, name, hits_path):
    """source with the top-level function name neutralised: as a decorator, at
    whatever depth of arguments, it returns the view it is given unchanged."""
    node = top_level_functions(source).get(name)
    if node is None:
        raise CommandError(
            f"no top-level function {name}() to neutralise",
            "check that the series is applied",
        )
    lines = source.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    code = NEUTRALISER.format(name=name, hits=str(hits_path))
    result = "".join(lines[: node.end_lineno]) + code + "".join(lines[node.end_lineno :])
    ast.parse(result)  # a transform that breaks the module would kill everything
    return result


# Running the new tests against each neutralised decorator ------------------------


@dataclasses.dataclass
class DecoratorResult:
    decorator: Decorator
    red: list  # new tests, green on the patched tree, red with it neutralised
    views: int  # views the neutralised decorator handed back unchanged, in the run

    @property
    def killed(self):
        return bool(self.red) and self.views > 0


def default_jobs():
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def run_jobs(tasks, trees, run):
    """run(tree, task) for each task, as many at a time as there are trees, each
    tree used by one task at a time; return the results in the tasks' order."""
    free = queue.Queue()
    for tree in trees:
        free.put(tree)

    def on_a_free_tree(task):
        tree = free.get()
        try:
            return run(tree, task)
        finally:
            free.put(tree)

    with concurrent.futures.ThreadPoolExecutor(len(trees)) as pool:
        return list(pool.map(on_a_free_tree, tasks))


def run_neutralise_check(release, python, workspace, jobs=None):
    prepared, python = prepare(release, workspace, python, reverted=False)
    fork, workdir = prepared.fork, workspace.root
    decorators, others = series_decorators(fork, release)
    if not decorators:
        raise CommandError(
            f"series {release.series} changes no decorator in {', '.join(DECORATOR_FILES)}",
            "check that the series is applied",
        )
    new = sorted(new_test_ids(fork, release, regression=False))
    if not new:
        raise CommandError(
            f"series {release.series} adds no test", "check that the series is applied"
        )
    progress(
        f"{len(decorators)} decorator(s) the series changes, each neutralised alone "
        f"against its {len(new)} new tests: {', '.join(d.name for d in decorators)}"
    )
    jobs = max(1, min(jobs or default_jobs(), len(decorators) + 1))
    board = ProgressBoard()
    with tempfile.TemporaryDirectory(dir=workdir) as scratch:
        scratch = Path(scratch)
        trees = [
            extract_commit(fork, "HEAD", scratch / f"tree-{n}", link_regression=False)
            for n in range(1, jobs + 1)
        ]

        def run(tree, task):
            number, decorator = task
            name = decorator.name if decorator else "unchanged"
            hits = scratch / f"hits-{number}"
            hits.touch()
            file = tree / decorator.path if decorator else None
            original = file.read_text() if file else None
            if file:
                file.write_text(neutralised_source(original, decorator.name, hits.absolute()))
            try:
                log = workspace.log(f"neutralise-{number}-{name}")
                _, outcomes = run_in_scratch_tree(python, tree, new, log, name, board)
            finally:
                if file:
                    file.write_text(original)
            return outcomes, len(hits.read_text().splitlines())

        runs = run_jobs(list(enumerate([None, *decorators])), trees, run)
    (baseline, _), runs = runs[0], runs[1:]
    judged = [test_id for test_id in new if baseline.get(test_id) == "pass"]
    results = [
        DecoratorResult(
            decorator,
            [test_id for test_id in judged if outcomes.get(test_id) in FAILING_OUTCOMES],
            views,
        )
        for decorator, (outcomes, views) in zip(decorators, runs)
    ]
    not_judged = sorted(set(new) - set(judged))
    report, ok = format_neutralise_results(release, python, results, others, not_judged)
    return check_outcome(
        "neutralise",
        release,
        python_version_of(python),
        ok,
        report,
        new_tests=len(new),
        decorators=len(results),
        killed=sum(result.killed for result in results),
        survivors=[r.decorator.name for r in results if not r.killed],
        killed_by={r.decorator.name: r.red for r in results if r.killed},
        not_judged=not_judged,
    )


def format_neutralise_results(release, python, results, others=(), not_judged=()):
    lines = [
        f"Decorator check: series {release.series} ({release.base_name}) on Python "
        f"{python_version_of(python)}: each decorator the series changes, made to "
        "return the view it is given, must turn a new test red",
    ]
    rows = [("decorator", "where", "views handed back", "red tests", "killed by")]
    for result in results:
        if result.killed:
            # The first killer in full (a class name such as AsyncCallableViewTests
            # recurs across modules); all of them are in the evidence file.
            verdict = result.red[0]
            verdict += f" (+{len(result.red) - 1} more)" if len(result.red) > 1 else ""
        elif result.red:
            verdict = "SURVIVED (tests went red, but it was never applied to a view)"
        elif not result.views:
            verdict = "SURVIVED (never applied to a view)"
        else:
            verdict = "SURVIVED"
        rows.append(
            (
                result.decorator.name,
                f"{result.decorator.path}:{result.decorator.line}",
                result.views,
                len(result.red),
                verdict,
            )
        )
    lines.append(text_table(rows, indent="  "))
    if others:
        lines.append(
            "  touched, not decorators (not neutralised): "
            + ", ".join(other.label for other in others)
        )
    if not_judged:
        lines.append(
            f"  {len(not_judged)} new test(s) not green on the patched tree, so they "
            f"judge nothing: {', '.join(not_judged)}"
        )
    killed = sum(result.killed for result in results)
    lines.append(f"  decorators killed: {killed} of {len(results)}")
    ok = bool(results) and killed == len(results)
    return "\n".join(lines), ok
