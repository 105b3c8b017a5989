#!/usr/bin/env python3
"""patchset: materialize, test, apply, export and compare the async-callable patch
series for Django.

Run `python3 scripts/patchset.py --help`; each subcommand has its own --help.
Exit status: 0 success, 1 the operation failed, 2 usage error.
"""

import argparse
import sys
from pathlib import Path

from releases import (
    PROJECT_DIR,
    OperationError,
    UsageError,
    first_available_python,
    load_manifest,
    python_version_of,
)
from gitcmd import GitError

DEFAULT_FORK = PROJECT_DIR / "django_fork"


def venv_dir_for(manifest, release):
    if release.series == manifest.default_series:
        return PROJECT_DIR / ".venv"
    return PROJECT_DIR / f".venv-{release.series}"


def labels_for(manifest, requested):
    from fork import REGRESSION_LABEL, regression_dir

    if requested:
        return list(requested)
    labels = list(manifest.labels)
    if regression_dir().is_dir():
        labels.append(REGRESSION_LABEL)
    return labels


# Subcommands ------------------------------------------------------------------


def cmd_fetch(args, manifest):
    from sdist import fetch_sdist

    series = list(manifest.releases) if args.all else [manifest.release(args.series).series]
    for name in series:
        path = fetch_sdist(manifest.release(name))
        print(f"{name}: {path} (sha256 verified)")
    return 0


def cmd_materialize(args, manifest):
    from fork import materialize_fork

    materialize_fork(args.dest, manifest.release(args.series))
    return 0


def run_series_tests(release, python, fork, labels, compare, parallel, pinned=(),
                     verbose=False):
    """Install the fork into python's environment, run the labels on the patched
    tree and, when comparing, on the reverted one (both at once on 2+ cores); return
    the exit status. runtests.py's output goes to log files unless verbose."""
    from djangotests import (
        ProgressBoard,
        compare_outcomes,
        format_comparison,
        install_fork,
        run_both,
        run_runtests,
        summarize_outcomes,
    )
    from fork import build_reverted_tree, new_test_ids

    install_fork(python, fork)
    if compare:
        # Django's parallel runner replays the workers' results by test index, and
        # under load it was seen to drop or shift some (Found 2294, Ran 2256): a
        # per-test comparison needs every outcome on the test it belongs to.
        parallel = 1
    trees = {"patched": (fork, False)}
    if compare:
        print("Building the reverted tree (django/ as released, patched tests/)...", flush=True)
        # import_from_tree: the reverted run imports django/ from its own tree.
        trees["reverted"] = (build_reverted_tree(fork, release), True)
    logs = {name: None if verbose else Path(fork).parent / ".logs" / f"{release.series}-{name}.log"
            for name in trees}
    board = ProgressBoard()
    print(f"Running {len(labels)} label(s) on the {' and '.join(trees)} "
          f"tree{'s' if compare else ''}...", flush=True)
    jobs = {name: (lambda name=name, tree=tree, own=own: run_runtests(
                python, tree, labels, parallel, import_from_tree=own,
                log_path=logs[name], board=board, name=name))
            for name, (tree, own) in trees.items()}
    results = run_both(jobs) if not verbose else {name: job() for name, job in jobs.items()}
    for name, (status, outcomes) in results.items():
        print(f"{name.capitalize()} tree: {summarize_outcomes(outcomes)} "
              f"(runtests.py exit {status})", flush=True)
        if logs[name]:
            print(f"  full output: {logs[name]}")
    status, patched = results["patched"]
    if not compare:
        return 0 if status == 0 else 1
    _, reverted = results["reverted"]
    comparison = compare_outcomes(new_test_ids(fork, release), patched, reverted, labels,
                                  pinned)
    title = (f"series {release.series} ({release.base_name}) "
             f"on Python {python_version_of(python)}")
    print(format_comparison(comparison, title), flush=True)
    return 0 if comparison.ok else 1


def cmd_test(args, manifest):
    from fork import materialize_fork

    release = manifest.release(args.series)
    fork = materialize_fork(Path(args.workdir) / "django_fork", release)
    labels = labels_for(manifest, args.labels)
    return run_series_tests(release, args.python, fork, labels,
                            args.compare_pristine, args.parallel, manifest.pinned_tests,
                            args.verbose)


def cmd_setup(args, manifest):
    from djangotests import create_venv
    from fork import materialize_fork
    from releases import find_python

    release = manifest.release(args.series)
    if args.python and args.python not in release.pythons:
        raise UsageError(f"series {release.series} is tested on Python "
                         f"{', '.join(release.pythons)}, not {args.python}",
                         f"pass one of them with --python, e.g. --python {release.pythons[0]}")
    if args.python:
        base_python = find_python(args.python)
        if base_python is None:
            raise OperationError(f"no Python {args.python} found",
                                 "install it (e.g. with pyenv) or pick another --python")
    else:
        base_python = first_available_python(release)
    fork = materialize_fork(DEFAULT_FORK, release)
    python = create_venv(base_python, venv_dir_for(manifest, release)).absolute()
    labels = labels_for(manifest, None)
    status = run_series_tests(release, str(python), fork, labels, True, None,
                              manifest.pinned_tests, args.verbose)
    print()
    if status == 0:
        print(f"Verdict: the {release.series} series ({release.base_name}) passes "
              "its red/green check on the affected labels.")
    else:
        print(f"Verdict: the {release.series} series ({release.base_name}) FAILED "
              "its red/green check (see the table above).")
    print("Run Django's tests by hand with:")
    print(f"  cd {fork / 'tests'} && {python} runtests.py middleware")
    return status


def cmd_apply(args, manifest):
    from fork import apply_to_user_fork

    return apply_to_user_fork(Path(args.path), manifest, args.series)


def cmd_export(args, manifest):
    from fork import export_series

    return export_series(Path(args.fork), manifest, args.series)


def cmd_compare(args, manifest):
    from fork import compare_series

    return compare_series(manifest.release(args.a), manifest.release(args.b),
                          Path(args.fork).absolute() if args.fork else None)


def cmd_commits(args, manifest):
    from commitcheck import run_commit_check

    return run_commit_check(manifest.release(args.series), args.python, Path(args.workdir),
                            manifest.pinned_tests)


def cmd_mutate(args, manifest):
    from commitcheck import run_mutation_check

    return run_mutation_check(manifest.release(args.series), args.python, Path(args.workdir))


def cmd_redgreen(args, manifest):
    from redgreen import run_redgreen

    return run_redgreen(manifest, args.series, args.python, Path(args.workdir))


def cmd_explore(args, manifest):
    from explorer import CI_CHAINS, DEEP_CHAINS, run_explore

    chains = args.chains if args.chains is not None else (DEEP_CHAINS if args.deep else CI_CHAINS)
    return run_explore(manifest, args.series, args.python, Path(args.workdir), chains)


def cmd_bench(args, manifest):
    from bench import DEFAULT_MARKDOWN, run_bench

    markdown = args.output or (None if args.quick else str(DEFAULT_MARKDOWN))
    return run_bench(manifest, args.series, args.python, Path(args.workdir), args.quick,
                     args.callgrind, markdown, args.jobs)


def cmd_lint(args, manifest):
    from lint import run_lint

    return run_lint(manifest, args.series, Path(args.workdir))


def cmd_docs(args, manifest):
    from docsbuild import run_docs

    return run_docs(manifest, args.series, Path(args.workdir), args.spelling,
                    args.compare_only)


def cmd_fullsuite(args, manifest):
    from fullsuite import run_fullsuite

    return run_fullsuite(manifest, args.series, args.python, Path(args.workdir), args.parallel)


def cmd_ecosystem(args, manifest):
    from ecosystem import run_ecosystem

    return run_ecosystem(manifest, args.series, args.python, Path(args.workdir), args.packages)


def cmd_case(args, manifest):
    from case import write_case

    return write_case(manifest, Path(args.workdir), args.check)


def cmd_serve_check(args, manifest):
    from servecheck import run_serve_check

    return run_serve_check(manifest, args.series, args.python, Path(args.workdir),
                           args.pristine, args.requests)


# Command line -----------------------------------------------------------------


def build_parser():
    parser = argparse.ArgumentParser(
        prog="patchset.py",
        description="Materialize, test, apply, export and compare the async-callable "
        "patch series for Django.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    fetch = sub.add_parser("fetch", help="download and verify sdists into the cache")
    which = fetch.add_mutually_exclusive_group()
    which.add_argument("--series", help="series to fetch (default: the default series)")
    which.add_argument("--all", action="store_true", help="fetch every series")
    fetch.set_defaults(handler=cmd_fetch)

    materialize = sub.add_parser("materialize", help="build a git fork of a release with the series applied")
    materialize.add_argument("--series")
    materialize.add_argument("--dest", default=str(DEFAULT_FORK), help="default: ./django_fork")
    materialize.set_defaults(handler=cmd_materialize)

    setup = sub.add_parser("setup", help="fork + virtualenv + red/green run of the default series")
    setup.add_argument("--series")
    setup.add_argument("--python", metavar="X.Y", help="Python version for the virtualenv")
    setup.add_argument("-v", "--verbose", action="store_true",
                       help="stream runtests.py's output instead of writing it to log files")
    setup.set_defaults(handler=cmd_setup)

    test = sub.add_parser("test", help="materialize in WORKDIR and run Django's tests (tox envs call this)")
    test.add_argument("--series", required=True)
    test.add_argument("--python", default=sys.executable, metavar="EXE",
                      help="interpreter to install into and test with (default: this one)")
    test.add_argument("--workdir", default=str(PROJECT_DIR), help="the fork goes to WORKDIR/django_fork")
    test.add_argument("--compare-pristine", action="store_true",
                      help="also run on the release's django/ and apply the red/green rules")
    test.add_argument("--labels", nargs="+", metavar="LABEL",
                      help="runtests.py labels (default: the manifest's)")
    test.add_argument("--parallel", type=int, metavar="N")
    test.add_argument("-v", "--verbose", action="store_true",
                      help="stream runtests.py's output instead of writing it to log files")
    test.set_defaults(handler=cmd_test)

    apply = sub.add_parser("apply", help="apply the series to your own Django git checkout")
    apply.add_argument("path")
    apply.add_argument("--series", help="default: picked from django/__init__.py's VERSION")
    apply.set_defaults(handler=cmd_apply)

    export = sub.add_parser("export", help="regenerate patches/<series>/ from the fork's branch")
    export.add_argument("--series", help="default: the fork's own series")
    export.add_argument("--fork", default=str(DEFAULT_FORK))
    export.set_defaults(handler=cmd_export)

    compare = sub.add_parser("compare", help="git range-diff between two series")
    compare.add_argument("a", metavar="A")
    compare.add_argument("b", metavar="B")
    compare.add_argument("--fork", help="take a series' commits from this fork's branch when it has one")
    compare.set_defaults(handler=cmd_compare)

    for name, handler, summary in (
        ("commits", cmd_commits,
         "each commit's new tests fail without its django/ changes and pass with them"),
        ("mutate", cmd_mutate,
         "each call of the helper in django/, reverted alone, turns a new test red"),
    ):
        check = sub.add_parser(name, help=summary)
        check.add_argument("--series", help="default: the default series")
        check.add_argument("--python", default=sys.executable, metavar="EXE",
                           help="interpreter to install into and test with (default: this one)")
        check.add_argument("--workdir", default=str(PROJECT_DIR / ".regression" / name),
                           help=f"the fork goes to WORKDIR/django_fork (default: ./.regression/{name})")
        check.set_defaults(handler=handler)

    redgreen = sub.add_parser(
        "redgreen", help="tests_regression/ must fail on each pristine release and pass patched")
    redgreen.add_argument("--series", nargs="+", metavar="S", help="default: every series")
    redgreen.add_argument("--python", nargs="+", metavar="X.Y|EXE",
                          help="default: each series' Pythons; a path uses that interpreter as is")
    redgreen.add_argument("--workdir", default=str(PROJECT_DIR / ".regression"),
                          help="forks and virtualenvs go here (default: ./.regression)")
    redgreen.set_defaults(handler=cmd_redgreen)

    explore = sub.add_parser(
        "explore", help="differential middleware chain explorer: pristine vs patched")
    explore.add_argument("--series", nargs="+", metavar="S", help="default: the default series")
    explore.add_argument("--python", metavar="X.Y|EXE", help="default: the series' first Python")
    size = explore.add_mutually_exclusive_group()
    size.add_argument("--chains", type=int, metavar="N", help="chains per handler (default 2000)")
    size.add_argument("--deep", action="store_true", help="20000 chains per handler")
    explore.add_argument("--workdir", default=str(PROJECT_DIR / ".regression"),
                         help="forks and virtualenvs go here (default: ./.regression)")
    explore.set_defaults(handler=cmd_explore)

    bench = sub.add_parser(
        "bench", help="per-request and detection cost, patched vs pristine; writes BENCHMARKS.md")
    bench.add_argument("--series", nargs="+", metavar="S", help="default: every series")
    bench.add_argument("--python", metavar="X.Y|EXE",
                       help="default: the series' first Python for requests, each for detection")
    bench.add_argument("--quick", action="store_true",
                       help="tiny sizes, to show it works; writes no file unless --output")
    bench.add_argument("--no-callgrind", dest="callgrind", action="store_false",
                       help="skip the instruction counts (they need valgrind)")
    bench.add_argument("--output", metavar="PATH",
                       help="Markdown report (default: BENCHMARKS.md, none with --quick)")
    bench.add_argument("--jobs", type=int, default=1, metavar="N",
                       help="series measured at the same time (default 1)")
    bench.add_argument("--workdir", default=str(PROJECT_DIR / ".bench"),
                       help="forks and virtualenvs go here (default: ./.bench)")
    bench.set_defaults(handler=cmd_bench)

    lint = sub.add_parser(
        "lint", help="black, isort, flake8, blacken-docs on the files the patches touch")
    lint.add_argument("--series", nargs="+", metavar="S", help="default: every series")
    lint.add_argument("--workdir", default=str(PROJECT_DIR / ".lint"),
                      help="forks and tool virtualenvs go here (default: ./.lint)")
    lint.set_defaults(handler=cmd_lint)

    docs = sub.add_parser(
        "docs", help="build Django's docs patched and pristine: no new Sphinx warnings")
    docs.add_argument("--series", help="default: the default series")
    docs.add_argument("--no-spelling", dest="spelling", action="store_false",
                      help="skip the spelling check (it needs Debian's enchant)")
    docs.add_argument("--compare-only", action="store_true",
                      help="compare the warnings of the last builds in WORKDIR, no rebuild")
    docs.add_argument("--workdir", default=str(PROJECT_DIR / ".docs"),
                      help="forks and the docs virtualenv go here (default: ./.docs)")
    docs.set_defaults(handler=cmd_docs)

    fullsuite = sub.add_parser(
        "fullsuite", help="Django's whole test suite, patched vs pristine (~20 min a run)")
    fullsuite.add_argument("--series", help="default: the default series")
    fullsuite.add_argument("--python", metavar="X.Y", help="default: the series' first Python")
    fullsuite.add_argument("--parallel", type=int, metavar="N")
    fullsuite.add_argument("--workdir", default=str(PROJECT_DIR / ".fullsuite"),
                           help="fork and virtualenv go here (default: ./.fullsuite)")
    fullsuite.set_defaults(handler=cmd_fullsuite)

    ecosystem = sub.add_parser(
        "ecosystem", help="third-party packages' own tests on the patched and pristine trees")
    ecosystem.add_argument("--series", help="default: the default series")
    ecosystem.add_argument("--python", metavar="X.Y", help="default: the series' first Python")
    ecosystem.add_argument("--packages", nargs="+", metavar="NAME",
                           help="default: every package in scripts/ecosystem.json")
    ecosystem.add_argument("--workdir", default=str(PROJECT_DIR / ".ecosystem"),
                           help="forks, sdists and virtualenvs go here (default: ./.ecosystem)")
    ecosystem.set_defaults(handler=cmd_ecosystem)

    case = sub.add_parser(
        "case", help="regenerate UPSTREAM.md from its template and the checks' summaries")
    case.add_argument("--check", action="store_true",
                      help="exit 1 if UPSTREAM.md is not what the template gives")
    case.add_argument("--workdir", default=str(PROJECT_DIR / ".case"),
                      help="forks and the ASGI demo virtualenv go here (default: ./.case)")
    case.set_defaults(handler=cmd_case)

    serve = sub.add_parser(
        "serve-check", help="uvicorn and gunicorn serving a site with an unmarked async middleware")
    serve.add_argument("--series", help="default: the default series")
    serve.add_argument("--python", metavar="X.Y|EXE", help="default: the series' first Python")
    serve.add_argument("--pristine", action="store_true",
                       help="also serve the pristine release, which must show the failure")
    serve.add_argument("--requests", type=int, default=2000, metavar="N",
                       help="requests per server (default 2000)")
    serve.add_argument("--workdir", default=str(PROJECT_DIR / ".regression"),
                       help="forks and virtualenvs go here (default: ./.regression)")
    serve.set_defaults(handler=cmd_serve_check)
    return parser


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
    try:
        manifest = load_manifest()
        return args.handler(args, manifest)
    except UsageError as error:
        report_error(error, error.next_step)
        return 2
    except OperationError as error:
        report_error(error, error.next_step)
        return 1
    except GitError as error:
        report_error(error, "fix the cause above and run the command again")
        return 1
    except KeyboardInterrupt:
        report_error("interrupted", None)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
