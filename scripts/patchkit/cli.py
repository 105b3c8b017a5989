"""The command line: one handler per command, each declared with its arguments,
and the one place that turns a command's outcome or failure into output and an
exit status.

Exit status: 0 success, 1 the operation failed, 2 usage error. Each handler's
docstring is its --help summary. Handlers import their command group lazily, so a
command only loads the code it runs.
"""

import argparse
import sys

from patchkit.core.errors import CommandError
from patchkit.core.evidence import write_evidence
from patchkit.core.manifest import PROJECT_DIR, load_manifest
from patchkit.core.report import Outcome, set_progress, verdict_line
from patchkit.core.workspace import Workspace

# Arguments --------------------------------------------------------------------
# Each function below returns what adds one argument (or a group) to a command's
# parser; a command lists them beside its handler.

PYTHON_HELP = "X.Y: a virtualenv of that Python; a path: that interpreter as is"


def option(*flags, **settings):
    return lambda parser: parser.add_argument(*flags, **settings)


def one_of(*options):
    """Options that exclude each other."""

    def add(parser):
        group = parser.add_mutually_exclusive_group()
        for add_option in options:
            add_option(group)

    return add


def series(many=False, default="the default series", required=False):
    if many:
        return option("--series", nargs="+", metavar="S", help=f"default: {default}")
    return option("--series", required=required, help=None if required else f"default: {default}")


def python(default="the series' first Python", many=False):
    if many:
        return option(
            "--python", nargs="+", metavar="X.Y|EXE", help=f"{PYTHON_HELP} (default: {default})"
        )
    if default == "this one":
        # tox runs these in its env, which is theirs to install into; run by hand
        # outside a virtualenv, they must not install Django into the user's Python.
        # Asked when the parser is built, not when this module is imported.
        return lambda parser: parser.add_argument(
            "--python",
            default=sys.executable if sys.prefix != sys.base_prefix else None,
            metavar="X.Y|EXE",
            help=f"{PYTHON_HELP} (default: this one if it is a virtualenv, as in tox; "
            "else a virtualenv of the series' first Python)",
        )
    return option("--python", metavar="X.Y|EXE", help=f"{PYTHON_HELP} (default: {default})")


def workdir(folder, what="forks and virtualenvs"):
    return option(
        "--workdir",
        default=str(PROJECT_DIR / folder),
        help=f"{what} go here (default: ./{folder})",
    )


def packages(manifest_file):
    return option(
        "--packages", nargs="+", metavar="NAME", help=f"default: every package in {manifest_file}"
    )


def count(flag, default, what):
    return option(flag, type=int, default=default, metavar="N", help=f"{what} (default {default})")


def flag(name, what, dest=None):
    """An on/off option: on when given, or (a --no-... flag with dest) off when given."""
    if dest:
        return option(name, action="store_false", dest=dest, help=what)
    return option(name, action="store_true", help=what)


ASGIREF = option(
    "--asgiref",
    choices=("released", "series"),
    default="released",
    help="released: the asgiref installing Django brings; series: patches/asgiref/ "
    "on the pinned asgiref, in virtualenvs of its own (default: released)",
)
VERBOSE = option(
    "-v",
    "--verbose",
    action="store_true",
    help="stream runtests.py's output instead of writing it to log files",
)
PARALLEL = option("--parallel", type=int, metavar="N")

COMMANDS = []


def command(name, *arguments):
    """Register handler as the command `name`, with what adds its arguments."""

    def register(handler):
        COMMANDS.append((name, handler, arguments))
        return handler

    return register


def workspace_of(args, manifest):
    if getattr(args, "asgiref", "released") == "series":
        if manifest.asgiref is None:
            raise CommandError.usage(
                "--asgiref series: scripts/releases.json pins no asgiref release",
                "add its asgiref entry",
            )
        return Workspace(args.workdir, manifest.default_series, manifest.asgiref)
    return Workspace(args.workdir, manifest.default_series)


# Commands ---------------------------------------------------------------------


@command(
    "fetch",
    one_of(
        option("--series", help="series to fetch (default: the default series)"),
        option("--all", action="store_true", help="fetch every series"),
    ),
)
def cmd_fetch(args, manifest):
    """download and verify sdists into the cache"""
    from patchkit.core.sdists import fetch_sdist

    if args.all:
        names = [*manifest.releases, *(["asgiref"] if manifest.asgiref else [])]
    else:
        names = [manifest.package_release(args.series).series]
    lines = [
        f"{name}: {fetch_sdist(manifest.package_release(name))} (sha256 verified)"
        for name in names
    ]
    return Outcome(True, lines, verdict=False)


@command(
    "materialize",
    series(),
    option("--dest", default=str(PROJECT_DIR / "django_fork"), help="default: ./django_fork"),
)
def cmd_materialize(args, manifest):
    """build a git fork of a release with the series applied"""
    from patchkit.core.fork import materialize_fork

    materialize_fork(args.dest, manifest.package_release(args.series))
    return 0


@command("setup", series(), python(), VERBOSE)
def cmd_setup(args, manifest):
    """fork + virtualenv + red/green run of the default series"""
    from patchkit.checks.labels import run_setup

    return run_setup(
        manifest,
        manifest.release(args.series),
        Workspace(PROJECT_DIR, manifest.default_series),
        args.python,
        args.verbose,
    )


@command(
    "test",
    series(required=True),
    python(default="this one"),
    option(
        "--workdir",
        default=str(PROJECT_DIR),
        help="the fork goes to WORKDIR/fork-<series> (default: ./django_fork)",
    ),
    flag("--compare-pristine", "also run on the release's django/ and apply the red/green rules"),
    option(
        "--scope",
        choices=["labels", "new-tests"],
        default="labels",
        help="labels: the manifest's labels (or --labels); new-tests: only the test "
        "modules that define the series' new tests",
    ),
    option(
        "--labels", nargs="+", metavar="LABEL", help="runtests.py labels (default: the manifest's)"
    ),
    PARALLEL,
    ASGIREF,
    VERBOSE,
)
def cmd_test(args, manifest):
    """materialize in WORKDIR and run Django's tests (tox envs call this)"""
    from patchkit.checks.labels import labels_for, run_series_tests

    outcome, _, _ = run_series_tests(
        manifest,
        manifest.release(args.series),
        workspace_of(args, manifest),
        args.python,
        labels_for(manifest, args.labels),
        args.compare_pristine,
        args.parallel,
        args.verbose,
        args.scope == "new-tests",
    )
    return outcome


@command(
    "apply",
    option("path"),
    option("--series", help="default: picked from django/__init__.py's VERSION"),
)
def cmd_apply(args, manifest):
    """apply the series to your own Django git checkout"""
    from patchkit.forkops.apply import apply_to_user_fork

    return apply_to_user_fork(args.path, manifest, args.series)


@command(
    "export",
    option("--series", help="default: the fork's own series"),
    option("--fork", default=str(PROJECT_DIR / "django_fork")),
)
def cmd_export(args, manifest):
    """regenerate patches/<series>/ from the fork's branch"""
    from patchkit.forkops.export import export_series

    return export_series(args.fork, manifest, args.series)


@command(
    "compare",
    option("a", metavar="A"),
    option("b", metavar="B"),
    option("--fork", help="take a series' commits from this fork's branch when it has one"),
)
def cmd_compare(args, manifest):
    """git range-diff between two series"""
    from pathlib import Path

    from patchkit.forkops.compare import compare_series

    return compare_series(
        manifest.release(args.a),
        manifest.release(args.b),
        Path(args.fork).absolute() if args.fork else None,
    )


@command(
    "coverage",
    series(many=True, default="every released series"),
    flag("--sample", "the first, a middle and the pinned release of each series"),
    option(
        "--output",
        metavar="PATH",
        help="Markdown table (default: COVERAGE.md, none with --sample)",
    ),
    workdir(".coverage"),
)
def cmd_coverage(args, manifest):
    """apply the series to a fork of every point release and run its new tests"""
    from patchkit.forkops.coverage import DEFAULT_MARKDOWN, run_coverage

    markdown = args.output or (None if args.sample else str(DEFAULT_MARKDOWN))
    return run_coverage(manifest, args.series, workspace_of(args, manifest), args.sample, markdown)


@command("commits", series(), python(default="this one"), workdir(".regression/commits"))
def cmd_commits(args, manifest):
    """each commit's new tests fail without its django/ changes and pass with them"""
    from patchkit.checks.commits import run_commit_check

    return run_commit_check(
        manifest.release(args.series),
        args.python,
        workspace_of(args, manifest),
        manifest.pinned_tests,
    )


@command("mutate", series(), python(default="this one"), workdir(".regression/mutate"))
def cmd_mutate(args, manifest):
    """each call of the helper in django/, reverted alone, turns a new test red"""
    from patchkit.checks.commits import run_mutation_check

    return run_mutation_check(
        manifest.release(args.series), args.python, workspace_of(args, manifest)
    )


@command(
    "neutralise",
    series(),
    python(default="this one"),
    workdir(".regression/neutralise"),
    option(
        "--jobs",
        type=int,
        metavar="N",
        help="decorators tested at the same time, each in its own tree "
        "(default: 2, or 1 on a one-core machine)",
    ),
)
def cmd_neutralise(args, manifest):
    """each view decorator the series changes, made to return the view, turns a new test red"""
    from patchkit.checks.neutralise import run_neutralise_check

    return run_neutralise_check(
        manifest.release(args.series), args.python, workspace_of(args, manifest), args.jobs
    )


@command(
    "redgreen",
    series(many=True, default="every series"),
    python(default="each series' Pythons", many=True),
    ASGIREF,
    workdir(".regression"),
)
def cmd_redgreen(args, manifest):
    """tests_regression/ must fail on each pristine release and pass patched"""
    from patchkit.checks.redgreen import run_redgreen

    return run_redgreen(manifest, args.series, args.python, workspace_of(args, manifest))


@command(
    "asgiref",
    python(default="asgiref's Pythons in scripts/releases.json", many=True),
    workdir(".asgiref"),
)
def cmd_asgiref(args, manifest):
    """asgiref's own suite: patches/asgiref/ red on the release, green patched"""
    from patchkit.checks.asgiref_suite import run_asgiref_suite

    return run_asgiref_suite(manifest, args.python, workspace_of(args, manifest))


@command(
    "explore",
    series(many=True),
    python(),
    one_of(
        option("--chains", type=int, metavar="N", help="chains per handler (default 2000)"),
        option("--deep", action="store_true", help="20000 chains per handler"),
    ),
    count("--examples", 1000, "generated callables the oracle judges per series"),
    ASGIREF,
    workdir(".regression"),
)
def cmd_explore(args, manifest):
    """differential middleware chain explorer: pristine vs patched"""
    from patchkit.checks.explorer import CI_CHAINS, DEEP_CHAINS, run_explore

    chains = args.chains if args.chains is not None else (DEEP_CHAINS if args.deep else CI_CHAINS)
    return run_explore(
        manifest, args.series, args.python, workspace_of(args, manifest), chains, args.examples
    )


@command(
    "serve-check",
    series(),
    python(),
    flag("--pristine", "also serve the pristine release, which must show the failure"),
    count("--requests", 2000, "requests per server"),
    workdir(".regression"),
)
def cmd_serve_check(args, manifest):
    """uvicorn and gunicorn serving a site with an unmarked async middleware"""
    from patchkit.checks.servecheck import run_serve_check

    return run_serve_check(
        manifest,
        args.series,
        args.python,
        workspace_of(args, manifest),
        args.pristine,
        args.requests,
    )


@command(
    "bench",
    series(many=True, default="every series"),
    python(default="the series' first Python for requests, each for detection"),
    flag("--quick", "tiny sizes, to show it works; writes no file unless --output"),
    flag("--no-callgrind", "skip the instruction counts (they need valgrind)", dest="callgrind"),
    option(
        "--output",
        metavar="PATH",
        help="Markdown report (default: BENCHMARKS.md, none with --quick)",
    ),
    count("--jobs", 1, "series measured at the same time"),
    workdir(".bench"),
)
def cmd_bench(args, manifest):
    """per-request and detection cost, patched vs pristine; writes BENCHMARKS.md"""
    from patchkit.benchmarks.bench import DEFAULT_MARKDOWN, run_bench

    markdown = args.output or (None if args.quick else str(DEFAULT_MARKDOWN))
    return run_bench(
        manifest,
        args.series,
        args.python,
        workspace_of(args, manifest),
        args.quick,
        args.callgrind,
        markdown,
        args.jobs,
    )


@command(
    "lint",
    series(many=True, default="every series"),
    workdir(".lint", "forks and tool virtualenvs"),
)
def cmd_lint(args, manifest):
    """black, isort, flake8, blacken-docs on the files the patches touch"""
    from patchkit.review.lint import run_lint

    return run_lint(manifest, args.series, workspace_of(args, manifest))


@command(
    "docs",
    series(),
    flag("--no-spelling", "skip the spelling check (it needs Debian's enchant)", dest="spelling"),
    flag("--compare-only", "compare the warnings of the last builds in WORKDIR, no rebuild"),
    workdir(".docs", "forks and the docs virtualenv"),
)
def cmd_docs(args, manifest):
    """build Django's docs patched and pristine: no new Sphinx warnings"""
    from patchkit.review.docs import run_docs

    return run_docs(
        manifest, args.series, workspace_of(args, manifest), args.spelling, args.compare_only
    )


@command("fullsuite", series(), python(), PARALLEL, workdir(".fullsuite"))
def cmd_fullsuite(args, manifest):
    """Django's whole test suite, patched vs pristine (~20 min a run)"""
    from patchkit.review.fullsuite import run_fullsuite

    return run_fullsuite(
        manifest, args.series, args.python, workspace_of(args, manifest), args.parallel
    )


@command(
    "ecosystem",
    series(),
    python(),
    packages("scripts/ecosystem.json"),
    workdir(".ecosystem", "forks, sdists and virtualenvs"),
)
def cmd_ecosystem(args, manifest):
    """third-party packages' own tests on the patched and pristine trees"""
    from patchkit.review.ecosystem import run_ecosystem

    return run_ecosystem(
        manifest, args.series, args.python, workspace_of(args, manifest), args.packages
    )


@command(
    "realpackages",
    series(many=True),
    python(),
    packages("scripts/realpackages.json"),
    workdir(".realpackages"),
)
def cmd_realpackages(args, manifest):
    """published packages' async middleware behind startproject's MIDDLEWARE, release vs series"""
    from patchkit.review.realpackages import report_realpackages, run_realpackages

    status = 0
    for name in args.series or [manifest.default_series]:
        evidence = run_realpackages(
            manifest, name, args.python, workspace_of(args, manifest), args.packages
        )
        status = max(status, finish(report_realpackages(evidence)))
    return status


@command(
    "case",
    flag("--check", "exit 1 if UPSTREAM.md is not what the template gives"),
    workdir(".case", "forks and the ASGI demo virtualenv"),
)
def cmd_case(args, manifest):
    """regenerate UPSTREAM.md from its template and the checks' summaries"""
    from patchkit.review.case import write_case

    return write_case(manifest, workspace_of(args, manifest), args.check)


# Output -----------------------------------------------------------------------


def build_parser():
    parser = argparse.ArgumentParser(
        prog="patchset.py",
        description="Materialize, test, apply, export and compare the async-callable "
        "patch series for Django.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, handler, arguments in COMMANDS:
        command_parser = sub.add_parser(name, help=handler.__doc__)
        command_parser.set_defaults(handler=handler)
        for add_argument in arguments:
            add_argument(command_parser)
    return parser


class Console:
    """Where progress goes: standard output (looked up at each write)."""

    @property
    def live(self):
        return sys.stdout.isatty()

    def line(self, text):
        print(text, flush=True)

    def status(self, text):
        print("\r\033[K" + text, end="", flush=True)

    def echo(self, data):
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


CONSOLE = Console()


def finish(outcome):
    """Print a command's report, write its evidence, print its verdict; return its
    exit status. A handler that returns a plain status has printed nothing."""
    if not isinstance(outcome, Outcome):
        return outcome
    for line in outcome.lines:
        print(line)
    for name, data in outcome.evidence.items():
        path = write_evidence(name, data)
        print(f"Summary written to {path}")
    if outcome.verdict:
        print(verdict_line(outcome.ok, outcome.detail))
    return outcome.exit_status


def report_error(message, next_step):
    print(f"error: {message}", file=sys.stderr)
    if next_step:
        print(f"next step: {next_step}", file=sys.stderr)


def main(argv=None):
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:  # argparse reports usage errors itself
        return exit.code if isinstance(exit.code, int) else 2
    set_progress(CONSOLE)
    try:
        manifest = load_manifest()
        return finish(args.handler(args, manifest))
    except CommandError as error:
        if error.tool_output:
            print(error.tool_output.rstrip(), file=sys.stderr)
        report_error(error, error.next_step)
        return error.status
    except OSError as error:  # a path that is missing, unwritable or in use
        report_error(error, "check that path and its permissions, then run the command again")
        return 1
    except KeyboardInterrupt:
        report_error("interrupted", None)
        return 1
