"""The command line: the parser, one handler per command, and the one place that
turns a command's outcome or failure into output and an exit status.

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


def workspace_of(args, manifest):
    if getattr(args, "asgiref", "released") == "series":
        if manifest.asgiref is None:
            raise CommandError.usage(
                "--asgiref series: scripts/releases.json pins no asgiref release",
                "add its asgiref entry",
            )
        return Workspace(args.workdir, manifest.default_series, manifest.asgiref)
    return Workspace(args.workdir, manifest.default_series)


# Handlers ---------------------------------------------------------------------


def cmd_fetch(args, manifest):
    """download and verify sdists into the cache"""
    from patchkit.core.sdists import fetch_sdist

    if args.all:
        series = [*manifest.releases, *(["asgiref"] if manifest.asgiref else [])]
    else:
        series = [manifest.package_release(args.series).series]
    for name in series:
        path = fetch_sdist(manifest.package_release(name))
        print(f"{name}: {path} (sha256 verified)")
    return 0


def cmd_materialize(args, manifest):
    """build a git fork of a release with the series applied"""
    from patchkit.core.fork import materialize_fork

    materialize_fork(args.dest, manifest.package_release(args.series))
    return 0


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


def cmd_apply(args, manifest):
    """apply the series to your own Django git checkout"""
    from patchkit.forkops.apply import apply_to_user_fork

    return apply_to_user_fork(args.path, manifest, args.series)


def cmd_export(args, manifest):
    """regenerate patches/<series>/ from the fork's branch"""
    from patchkit.forkops.export import export_series

    return export_series(args.fork, manifest, args.series)


def cmd_compare(args, manifest):
    """git range-diff between two series"""
    from pathlib import Path

    from patchkit.forkops.compare import compare_series

    return compare_series(
        manifest.release(args.a),
        manifest.release(args.b),
        Path(args.fork).absolute() if args.fork else None,
    )


def cmd_coverage(args, manifest):
    """apply the series to a fork of every point release and run its new tests"""
    from patchkit.forkops.coverage import DEFAULT_MARKDOWN, run_coverage

    markdown = args.output or (None if args.sample else str(DEFAULT_MARKDOWN))
    return run_coverage(manifest, args.series, workspace_of(args, manifest), args.sample, markdown)


def cmd_commits(args, manifest):
    """each commit's new tests fail without its django/ changes and pass with them"""
    from patchkit.checks.commits import run_commit_check

    return run_commit_check(
        manifest.release(args.series),
        args.python,
        workspace_of(args, manifest),
        manifest.pinned_tests,
    )


def cmd_mutate(args, manifest):
    """each call of the helper in django/, reverted alone, turns a new test red"""
    from patchkit.checks.commits import run_mutation_check

    return run_mutation_check(
        manifest.release(args.series), args.python, workspace_of(args, manifest)
    )


def cmd_neutralise(args, manifest):
    """each view decorator the series changes, made to return the view, turns a new test red"""
    from patchkit.checks.neutralise import run_neutralise_check

    return run_neutralise_check(
        manifest.release(args.series), args.python, workspace_of(args, manifest), args.jobs
    )


def cmd_redgreen(args, manifest):
    """tests_regression/ must fail on each pristine release and pass patched"""
    from patchkit.checks.redgreen import run_redgreen

    return run_redgreen(manifest, args.series, args.python, workspace_of(args, manifest))


def cmd_asgiref(args, manifest):
    """asgiref's own suite: patches/asgiref/ red on the release, green patched"""
    from patchkit.checks.asgiref_suite import run_asgiref_suite

    return run_asgiref_suite(manifest, args.python, workspace_of(args, manifest))


def cmd_explore(args, manifest):
    """differential middleware chain explorer: pristine vs patched"""
    from patchkit.checks.explorer import CI_CHAINS, DEEP_CHAINS, run_explore

    chains = args.chains if args.chains is not None else (DEEP_CHAINS if args.deep else CI_CHAINS)
    return run_explore(
        manifest, args.series, args.python, workspace_of(args, manifest), chains, args.examples
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


def cmd_lint(args, manifest):
    """black, isort, flake8, blacken-docs on the files the patches touch"""
    from patchkit.review.lint import run_lint

    return run_lint(manifest, args.series, workspace_of(args, manifest))


def cmd_docs(args, manifest):
    """build Django's docs patched and pristine: no new Sphinx warnings"""
    from patchkit.review.docs import run_docs

    return run_docs(
        manifest, args.series, workspace_of(args, manifest), args.spelling, args.compare_only
    )


def cmd_fullsuite(args, manifest):
    """Django's whole test suite, patched vs pristine (~20 min a run)"""
    from patchkit.review.fullsuite import run_fullsuite

    return run_fullsuite(
        manifest, args.series, args.python, workspace_of(args, manifest), args.parallel
    )


def cmd_ecosystem(args, manifest):
    """third-party packages' own tests on the patched and pristine trees"""
    from patchkit.review.ecosystem import run_ecosystem

    return run_ecosystem(
        manifest, args.series, args.python, workspace_of(args, manifest), args.packages
    )


def cmd_realpackages(args, manifest):
    """published packages' async middleware behind startproject's MIDDLEWARE, release vs series"""
    from patchkit.review.realpackages import report_realpackages, run_realpackages

    status = 0
    for series in args.series or [manifest.default_series]:
        evidence = run_realpackages(
            manifest, series, args.python, workspace_of(args, manifest), args.packages
        )
        status = max(status, finish(report_realpackages(evidence)))
    return status


def cmd_case(args, manifest):
    """regenerate UPSTREAM.md from its template and the checks' summaries"""
    from patchkit.review.case import write_case

    return write_case(manifest, workspace_of(args, manifest), args.check)


# The parser -------------------------------------------------------------------

PYTHON_HELP = "X.Y: a virtualenv of that Python; a path: that interpreter as is"


def add_command(sub, name, handler):
    parser = sub.add_parser(name, help=handler.__doc__)
    parser.set_defaults(handler=handler)
    return parser


def add_series(parser, many=False, default="the default series", required=False):
    if many:
        parser.add_argument("--series", nargs="+", metavar="S", help=f"default: {default}")
    else:
        parser.add_argument(
            "--series", required=required, help=None if required else f"default: {default}"
        )


def add_python(parser, default="the series' first Python", many=False):
    if many:
        parser.add_argument(
            "--python", nargs="+", metavar="X.Y|EXE", help=f"{PYTHON_HELP} (default: {default})"
        )
    elif default == "this one":
        # tox runs these in its env, which is theirs to install into; run by hand
        # outside a virtualenv, they must not install Django into the user's Python.
        in_virtualenv = sys.prefix != sys.base_prefix
        parser.add_argument(
            "--python",
            default=sys.executable if in_virtualenv else None,
            metavar="X.Y|EXE",
            help=f"{PYTHON_HELP} (default: this one if it is a virtualenv, as in tox; "
            "else a virtualenv of the series' first Python)",
        )
    else:
        parser.add_argument(
            "--python", metavar="X.Y|EXE", help=f"{PYTHON_HELP} (default: {default})"
        )


def add_workdir(parser, folder, what="forks and virtualenvs"):
    parser.add_argument(
        "--workdir",
        default=str(PROJECT_DIR / folder),
        help=f"{what} go here (default: ./{folder})",
    )


def add_packages(parser, manifest_file):
    parser.add_argument(
        "--packages", nargs="+", metavar="NAME", help=f"default: every package in {manifest_file}"
    )


def add_count(parser, flag, default, what):
    parser.add_argument(
        flag, type=int, default=default, metavar="N", help=f"{what} (default {default})"
    )


def add_flag(parser, flag, what, dest=None):
    """An on/off option: on when given, or (a --no-... flag with dest) off when given."""
    action = "store_false" if dest else "store_true"
    parser.add_argument(flag, action=action, help=what, **({"dest": dest} if dest else {}))


def add_asgiref(parser):
    parser.add_argument(
        "--asgiref",
        choices=("released", "series"),
        default="released",
        help="released: the asgiref installing Django brings; series: patches/asgiref/ "
        "on the pinned asgiref, in virtualenvs of its own (default: released)",
    )


def add_verbose(parser):
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="stream runtests.py's output instead of writing it to log files",
    )


def build_parser():
    parser = argparse.ArgumentParser(
        prog="patchset.py",
        description="Materialize, test, apply, export and compare the async-callable "
        "patch series for Django.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    fetch = add_command(sub, "fetch", cmd_fetch)
    which = fetch.add_mutually_exclusive_group()
    which.add_argument("--series", help="series to fetch (default: the default series)")
    which.add_argument("--all", action="store_true", help="fetch every series")

    materialize = add_command(sub, "materialize", cmd_materialize)
    add_series(materialize)
    materialize.add_argument(
        "--dest", default=str(PROJECT_DIR / "django_fork"), help="default: ./django_fork"
    )

    setup = add_command(sub, "setup", cmd_setup)
    add_series(setup)
    add_python(setup)
    add_verbose(setup)

    test = add_command(sub, "test", cmd_test)
    add_series(test, required=True)
    add_python(test, default="this one")
    test.add_argument(
        "--workdir",
        default=str(PROJECT_DIR),
        help="the fork goes to WORKDIR/fork-<series> (default: ./django_fork)",
    )
    add_flag(
        test,
        "--compare-pristine",
        "also run on the release's django/ and apply the red/green rules",
    )
    test.add_argument(
        "--scope",
        choices=["labels", "new-tests"],
        default="labels",
        help="labels: the manifest's labels (or --labels); new-tests: only the test "
        "modules that define the series' new tests",
    )
    test.add_argument(
        "--labels", nargs="+", metavar="LABEL", help="runtests.py labels (default: the manifest's)"
    )
    test.add_argument("--parallel", type=int, metavar="N")
    add_asgiref(test)
    add_verbose(test)

    apply = add_command(sub, "apply", cmd_apply)
    apply.add_argument("path")
    apply.add_argument("--series", help="default: picked from django/__init__.py's VERSION")

    export = add_command(sub, "export", cmd_export)
    export.add_argument("--series", help="default: the fork's own series")
    export.add_argument("--fork", default=str(PROJECT_DIR / "django_fork"))

    compare = add_command(sub, "compare", cmd_compare)
    compare.add_argument("a", metavar="A")
    compare.add_argument("b", metavar="B")
    compare.add_argument(
        "--fork", help="take a series' commits from this fork's branch when it has one"
    )

    coverage = add_command(sub, "coverage", cmd_coverage)
    add_series(coverage, many=True, default="every released series")
    add_flag(coverage, "--sample", "the first, a middle and the pinned release of each series")
    coverage.add_argument(
        "--output",
        metavar="PATH",
        help="Markdown table (default: COVERAGE.md, none with --sample)",
    )
    add_workdir(coverage, ".coverage")

    checks = {}
    for name, handler in (
        ("commits", cmd_commits),
        ("mutate", cmd_mutate),
        ("neutralise", cmd_neutralise),
    ):
        checks[name] = add_command(sub, name, handler)
        add_series(checks[name])
        add_python(checks[name], default="this one")
        add_workdir(checks[name], f".regression/{name}")
    checks["neutralise"].add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="decorators tested at the same time, each in its own tree "
        "(default: 2, or 1 on a one-core machine)",
    )

    redgreen = add_command(sub, "redgreen", cmd_redgreen)
    add_series(redgreen, many=True, default="every series")
    add_python(redgreen, default="each series' Pythons", many=True)
    add_asgiref(redgreen)
    add_workdir(redgreen, ".regression")

    asgiref = add_command(sub, "asgiref", cmd_asgiref)
    add_python(asgiref, default="asgiref's Pythons in scripts/releases.json", many=True)
    add_workdir(asgiref, ".asgiref")

    explore = add_command(sub, "explore", cmd_explore)
    add_series(explore, many=True)
    add_python(explore)
    size = explore.add_mutually_exclusive_group()
    size.add_argument("--chains", type=int, metavar="N", help="chains per handler (default 2000)")
    size.add_argument("--deep", action="store_true", help="20000 chains per handler")
    add_count(explore, "--examples", 1000, "generated callables the oracle judges per series")
    add_asgiref(explore)
    add_workdir(explore, ".regression")

    serve = add_command(sub, "serve-check", cmd_serve_check)
    add_series(serve)
    add_python(serve)
    add_flag(serve, "--pristine", "also serve the pristine release, which must show the failure")
    add_count(serve, "--requests", 2000, "requests per server")
    add_workdir(serve, ".regression")

    bench = add_command(sub, "bench", cmd_bench)
    add_series(bench, many=True, default="every series")
    add_python(bench, default="the series' first Python for requests, each for detection")
    add_flag(bench, "--quick", "tiny sizes, to show it works; writes no file unless --output")
    add_flag(
        bench,
        "--no-callgrind",
        "skip the instruction counts (they need valgrind)",
        dest="callgrind",
    )
    bench.add_argument(
        "--output",
        metavar="PATH",
        help="Markdown report (default: BENCHMARKS.md, none with --quick)",
    )
    add_count(bench, "--jobs", 1, "series measured at the same time")
    add_workdir(bench, ".bench")

    lint = add_command(sub, "lint", cmd_lint)
    add_series(lint, many=True, default="every series")
    add_workdir(lint, ".lint", "forks and tool virtualenvs")

    docs = add_command(sub, "docs", cmd_docs)
    add_series(docs)
    add_flag(
        docs,
        "--no-spelling",
        "skip the spelling check (it needs Debian's enchant)",
        dest="spelling",
    )
    add_flag(
        docs, "--compare-only", "compare the warnings of the last builds in WORKDIR, no rebuild"
    )
    add_workdir(docs, ".docs", "forks and the docs virtualenv")

    fullsuite = add_command(sub, "fullsuite", cmd_fullsuite)
    add_series(fullsuite)
    add_python(fullsuite)
    fullsuite.add_argument("--parallel", type=int, metavar="N")
    add_workdir(fullsuite, ".fullsuite")

    ecosystem = add_command(sub, "ecosystem", cmd_ecosystem)
    add_series(ecosystem)
    add_python(ecosystem)
    add_packages(ecosystem, "scripts/ecosystem.json")
    add_workdir(ecosystem, ".ecosystem", "forks, sdists and virtualenvs")

    realpackages = add_command(sub, "realpackages", cmd_realpackages)
    add_series(realpackages, many=True)
    add_python(realpackages)
    add_packages(realpackages, "scripts/realpackages.json")
    add_workdir(realpackages, ".realpackages", "forks and virtualenvs")

    case = add_command(sub, "case", cmd_case)
    case.add_argument(
        "--check", action="store_true", help="exit 1 if UPSTREAM.md is not what the template gives"
    )
    add_workdir(case, ".case", "forks and the ASGI demo virtualenv")
    return parser


def show_progress(line):
    print(line, flush=True)


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
    set_progress(show_progress)
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
