"""Benchmarks, patched vs pristine: per-request time and instructions through the
real handlers, detection cost, middleware chain build time and thread hops. The
measuring runs in scripts/payloads/bench_worker/ inside each series' interpreter; this
module plans the runs and computes one summary per series (medians, ratios and
each target judged once, as numbers and booleans: evidence/bench-<series>.json),
from which core/benchfigures.py renders BENCHMARKS.md's tables."""

import concurrent.futures
import dataclasses
import datetime
import json
import os
import platform
import shutil
import tempfile
from pathlib import Path

from patchkit.core.benchfigures import (
    CHAIN_BUILD,
    DETECTION,
    HOPS,
    PER_REQUEST,
    PYTHON_CALLS,
    results_tables,
    targets_text,
)
from patchkit.core.errors import CommandError
from patchkit.core.interpreters import python_version_of, selected_pythons
from patchkit.core.manifest import PAYLOADS_DIR, PROJECT_DIR
from patchkit.core.process import run_process
from patchkit.core.report import Outcome, progress
from patchkit.core.workspace import fork_interpreter, prepare

WORKER = PAYLOADS_DIR / "bench_worker" / "run_bench.py"
DEFAULT_WORKDIR = PROJECT_DIR / ".bench"
DEFAULT_MARKDOWN = PROJECT_DIR / "BENCHMARKS.md"
SCENARIOS = ("wsgi_sync_view", "asgi_async_view", "asgi_async_middleware")
SCENARIO_TITLES = {
    "wsgi_sync_view": "WSGI, sync function view",
    "asgi_async_view": "ASGI, async view",
    "asgi_async_middleware": "ASGI, async view + async-only class middleware",
}
TREES = ("pristine", "patched")
# callgrind also counts a control: the pristine release plus a function that
# nothing calls, a change that costs no instruction by itself.
CALLGRIND_TREES = ("pristine", "null", "patched")
NULL_CHANGE = """

def _bench_null_change(obj):
    return type(obj)
"""
HASH_SEED = "0"
# What can be measured: a request costs one more Python call and nothing else (the
# calls table); that call is at most this share of a request (callgrind); the
# helper costs at most DETECTION_MARGIN over a function that only calls
# iscoroutinefunction(). Whole-request instruction ratios move with memory layout
# (see the null change), so they are reported beside it, not judged.
ONE_CALL_TARGET = 1.0011
DETECTION_MARGIN = 0.05
EXTRA_CALLS_TARGET = {"is_coroutine_callable": 1}
DETECTION_TARGET_CASES = ("sync function", "async function", "bound method")
# valgrind zeroes its counters on entering the first and dumps on entering the
# second; the worker calls them right around each request loop and nothing else
# in Python or Django calls them.
ZERO_MARKER = "sched_get_priority_max"
DUMP_MARKER = "sched_get_priority_min"
INSTALL_VALGRIND = "apt-get update && apt-get install -y valgrind"


# How much each run measures: (full size, --quick).
SIZES = {
    "pairs": (5, 2),  # pristine/patched process pairs, interleaved
    "requests": (300, 20),  # per timed batch
    "repeats": (5, 2),  # timed batches per process (their median is the process's figure)
    "warmup": (100, 10),
    "builds": (100, 10),  # load_middleware() calls per process
    "detect_number": (100000, 2000),  # calls per timeit batch
    "detect_repeats": (15, 2),
    "callgrind_requests": (10, 2),  # ASGI: ~7M instructions each under valgrind
    "callgrind_warmup": (5, 2),
    "callgrind_wsgi_requests": (100, 5),  # WSGI: ~0.5M instructions each
    "callgrind_wsgi_warmup": (200, 5),
    "callgrind_layouts": (5, 2),  # memory layouts per tree, one callgrind run each
    "callgrind_calls": (2000, 50),  # calls counted for what one more Python call costs
}
Sizes = dataclasses.make_dataclass("Sizes", [(name, int) for name in SIZES], frozen=True)
FULL = Sizes(**{name: full for name, (full, _) in SIZES.items()})
QUICK = Sizes(**{name: quick for name, (_, quick) in SIZES.items()})


# Statistics -------------------------------------------------------------------


def median(values):
    ordered = sorted(values)
    if not ordered:
        raise ValueError("median of no values")
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def ratio(patched, pristine):
    return patched / pristine if pristine else float("inf")


def meets(value, target):
    return value <= target


# Running the worker -----------------------------------------------------------


def worker_env(tree, mark_async_middleware):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tree), str(WORKER.parent)])
    env["PYTHONHASHSEED"] = HASH_SEED
    env["BENCH_MARK_ASYNC_MIDDLEWARE"] = "1" if mark_async_middleware else "0"
    env.pop("PYTHONWARNINGS", None)
    return env


def worker_options(mode, sizes):
    if mode == "timing":
        return [
            "--requests",
            sizes.requests,
            "--repeats",
            sizes.repeats,
            "--warmup",
            sizes.warmup,
            "--builds",
            sizes.builds,
        ]
    if mode == "callgrind":
        return [
            "--requests",
            sizes.callgrind_requests,
            "--warmup",
            sizes.callgrind_warmup,
            "--wsgi-requests",
            sizes.callgrind_wsgi_requests,
            "--wsgi-warmup",
            sizes.callgrind_wsgi_warmup,
            "--calls",
            sizes.callgrind_calls,
        ]
    if mode == "hops":
        return ["--requests", sizes.requests, "--warmup", sizes.warmup]
    return ["--number", sizes.detect_number, "--repeats", sizes.detect_repeats]


def run_worker(python, tree, tree_name, mode, sizes, scratch, prefix=(), layout=0):
    """Run the worker in one process; return its report, checked to come from tree."""
    output = Path(tempfile.mkstemp(suffix=".json", dir=scratch)[1])
    command = [
        *prefix,
        str(python),
        str(WORKER),
        mode,
        str(output),
        *map(str, worker_options(mode, sizes)),
        "--layout",
        str(layout),
    ]
    env = worker_env(tree, mark_async_middleware=(tree_name != "patched"))
    completed = run_process(command, env=env, check=False)
    if completed.returncode != 0 or not output.stat().st_size:
        raise CommandError(
            f"the {mode} benchmark failed on the {tree_name} tree ({tree}):\n"
            f"{(completed.stdout + completed.stderr).strip()[-3000:]}",
            "fix the error above and run bench again",
        )
    report = json.loads(output.read_text())
    expected = (Path(tree) / "django" / "__init__.py").resolve()
    if Path(report["django_file"]).resolve() != expected:
        raise CommandError(
            f"the {tree_name} benchmark imported {report['django_file']}, not {expected}",
            "check PYTHONPATH and what is installed in the interpreter",
        )
    return report


def valgrind_executable():
    found = shutil.which("valgrind")
    if found is None:
        raise CommandError(
            "valgrind is not installed (callgrind counts the instructions)",
            f"install it with `{INSTALL_VALGRIND}` (as root), or pass --no-callgrind",
        )
    return found


def valgrind_version(valgrind):
    completed = run_process([valgrind, "--version"], check=False)
    return completed.stdout.strip()


def callgrind_prefix(valgrind, out_file):
    return [
        valgrind,
        "--tool=callgrind",
        "--quiet",
        f"--zero-before={ZERO_MARKER}",
        f"--dump-before={DUMP_MARKER}",
        f"--callgrind-out-file={out_file}",
    ]


def read_callgrind_summary(path):
    for line in Path(path).read_text().splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise CommandError(f"no summary line in {path}", "check the valgrind version")


def instructions_per_request(out_file, order, requests):
    """One dump per scenario, numbered in the worker's order: out_file.1, .2, ...;
    requests maps each scenario to the number of requests its loop served."""
    counts = {}
    for number, scenario in enumerate(order, start=1):
        dump = Path(f"{out_file}.{number}")
        if not dump.exists():
            raise CommandError(
                f"callgrind wrote no {dump}", f"the marker {DUMP_MARKER} was not reached"
            )
        counts[scenario] = read_callgrind_summary(dump) / requests[scenario]
    return counts


# Measurements of one series ---------------------------------------------------


@dataclasses.dataclass
class SeriesResult:
    series: str
    version: str
    python: str
    asgiref: str
    timing: dict  # tree -> [worker results of each process]
    callgrind: dict  # tree -> [{scenario: instructions per request} per layout]
    hops: dict  # tree -> {scenario: {"sync_to_async": n, "async_to_sync": n,
    #                                "python_calls": {function: n}}}
    detection: dict  # Python version -> worker results


def measure_timing(series, python, trees, sizes, scratch):
    """Interleaved processes, pristine then patched, sizes.pairs times."""
    timing = {name: [] for name in TREES}
    for pair in range(1, sizes.pairs + 1):
        for name in TREES:
            progress(f"  {series}: timing pair {pair}/{sizes.pairs}: {name}")
            report = run_worker(python, trees[name], name, "timing", sizes, scratch)
            timing[name].append(report["results"])
    return timing


def build_null_tree(pristine, scratch):
    """A copy of the pristine django/ with NULL_CHANGE appended to the module the
    patches add their helper to."""
    tree = Path(scratch) / "null-tree"
    shutil.copytree(Path(pristine) / "django", tree / "django")
    with open(tree / "django" / "utils" / "inspect.py", "a") as module:
        module.write(NULL_CHANGE)
    return tree


def measure_callgrind(series, python, trees, sizes, scratch, valgrind):
    """One run per tree and memory layout, the trees alternating."""
    trees = {**trees, "null": build_null_tree(trees["pristine"], scratch)}
    counts = {name: [] for name in CALLGRIND_TREES}
    for layout in range(sizes.callgrind_layouts):
        for name in CALLGRIND_TREES:
            progress(
                f"  {series}: callgrind layout {layout + 1}/{sizes.callgrind_layouts}: "
                f"{name} (slow: everything runs under valgrind)"
            )
            out_file = Path(scratch) / f"callgrind-{name}-{layout}.out"
            report = run_worker(
                python,
                trees[name],
                name,
                "callgrind",
                sizes,
                scratch,
                prefix=callgrind_prefix(valgrind, out_file),
                layout=layout,
            )
            order, requests = report["results"]["order"], report["results"]["requests"]
            counts[name].append(instructions_per_request(out_file, order, requests))
    return counts


def measure_hops(series, python, trees, sizes, scratch):
    progress(f"  {series}: thread hops")
    return {
        name: run_worker(python, trees[name], name, "hops", sizes, scratch)["results"]
        for name in TREES
    }


def measure_detection(release, pythons, workspace, fork, sizes, scratch):
    detection = {}
    for version in pythons:
        interpreter = fork_interpreter(release, workspace, fork, version)
        progress(f"  {release.series}: detection on Python {version}")
        report = run_worker(interpreter, fork, "patched", "detect", sizes, scratch)
        detection[report["python"]] = report["results"]
    return detection


def measure_series(release, python_version, detect_pythons, workspace, sizes, valgrind):
    prepared, python = prepare(release, workspace, python_version)
    fork = prepared.fork
    trees = {"pristine": prepared.reverted, "patched": fork}
    progress(
        f"Benchmarking series {release.series} ({release.base_name}) "
        f"on Python {python_version_of(python)}..."
    )
    with tempfile.TemporaryDirectory() as scratch:
        timing = measure_timing(release.series, python, trees, sizes, scratch)
        hops = measure_hops(release.series, python, trees, sizes, scratch)
        callgrind = (
            measure_callgrind(release.series, python, trees, sizes, scratch, valgrind)
            if valgrind
            else {}
        )
        detection = measure_detection(release, detect_pythons, workspace, fork, sizes, scratch)
        versions = run_worker(
            python,
            fork,
            "patched",
            "detect",
            dataclasses.replace(sizes, detect_number=1, detect_repeats=1),
            scratch,
        )
    return SeriesResult(
        release.series,
        release.version,
        versions["python"],
        versions["asgiref_version"],
        timing,
        callgrind,
        hops,
        detection,
    )


# The summary: numbers, and the targets judged on them ----------------------------


def one_call_instructions(result):
    """Instructions one more Python call adds where the handler asks about the
    view (median over every callgrind run of both trees)."""
    return median(
        [run["call_only"] - run["call_bare"] for name in TREES for run in result.callgrind[name]]
    )


def layout_spread_percent(layouts):
    """How far apart one tree's layouts are, as ± a percentage of their median,
    for the wider of the two trees: within a tree only the layout changes."""
    widest = max((max(v) - min(v)) / median(v) for v in layouts.values())
    return widest * 100 / 2


def instruction_figures(result, scenario):
    """The callgrind numbers of one scenario, all None when callgrind did not run."""
    if not result.callgrind:
        return {
            "instructions": None,
            "instruction_ratio": None,
            "layouts_spread_percent": None,
            "null_change_ratio": None,
            "one_call_ratio": None,
        }
    layouts = {name: [run[scenario] for run in result.callgrind[name]] for name in CALLGRIND_TREES}
    instructions = {name: median(values) for name, values in layouts.items()}
    return {
        "instructions": instructions,
        "instruction_ratio": ratio(instructions["patched"], instructions["pristine"]),
        "layouts_spread_percent": layout_spread_percent({name: layouts[name] for name in TREES}),
        "null_change_ratio": ratio(instructions["null"], instructions["pristine"]),
        "one_call_ratio": ratio(
            instructions["pristine"] + one_call_instructions(result), instructions["pristine"]
        ),
    }


HOP_KINDS = ("sync_to_async", "async_to_sync")


def python_call_changes(result, scenario):
    """{function: patched minus pristine calls per request}, for those that differ."""
    before = result.hops["pristine"][scenario]["python_calls"]
    after = result.hops["patched"][scenario]["python_calls"]
    changes = {
        function: after.get(function, 0) - before.get(function, 0)
        for function in {*before, *after}
    }
    return {function: change for function, change in sorted(changes.items()) if change}


def scenario_summary(result, scenario):
    times = {name: [r[scenario]["ns_per_request"] for r in result.timing[name]] for name in TREES}
    pair_ratios = [ratio(b, a) for a, b in zip(times["pristine"], times["patched"])]
    builds = {
        name: median([r[scenario]["chain_build_ns"] for r in result.timing[name]]) / 1000
        for name in TREES
    }
    hops = {
        name: {kind: result.hops[name][scenario][kind] for kind in HOP_KINDS} for name in TREES
    }
    changes = python_call_changes(result, scenario)
    figures = {
        "scenario": scenario,
        "title": SCENARIO_TITLES[scenario],
        "time_us": {name: median(times[name]) / 1000 for name in TREES},
        "time_ratio": ratio(median(times["patched"]), median(times["pristine"])),
        "time_ratio_range": [min(pair_ratios), max(pair_ratios)],
        **instruction_figures(result, scenario),
        "chain_build_us": builds,
        "chain_build_ratio": ratio(builds["patched"], builds["pristine"]),
        "hops": hops,
        "python_calls": {
            name: sum(result.hops[name][scenario]["python_calls"].values()) for name in TREES
        },
        "python_call_changes": changes,
    }
    one_call = figures["one_call_ratio"]
    figures["targets"] = {
        "one_call": None if one_call is None else meets(one_call, ONE_CALL_TARGET),
        "python_calls": {f.split(" ")[0]: n for f, n in changes.items()} == EXTRA_CALLS_TARGET,
        "hops": hops["pristine"] == hops["patched"],
    }
    return figures


def detection_summary(result):
    cases = []
    for python, objects in result.detection.items():
        for name, figures in objects.items():
            case_ratio = ratio(figures["helper_ns"], figures["baseline_ns"])
            floor = ratio(figures["call_only_ns"], figures["baseline_ns"])
            cases.append(
                {
                    "python": python,
                    "object": name,
                    "iscoroutinefunction_ns": figures["baseline_ns"],
                    "helper_ns": figures["helper_ns"],
                    "call_only_ns": figures["call_only_ns"],
                    "ratio": case_ratio,
                    "call_only_ratio": floor,
                    "answers": {
                        "iscoroutinefunction": figures["baseline_result"],
                        "helper": figures["helper_result"],
                    },
                    "target": (
                        meets(case_ratio, floor + DETECTION_MARGIN)
                        if name in DETECTION_TARGET_CASES
                        else None
                    ),
                }
            )
    return cases


def summarise(result, run):
    """One series' figures as plain data (evidence/bench-<series>.json): numbers,
    each target judged once as met (True), missed (False) or not judged (None);
    run holds what the series shares with the others (sizes, machine, command)."""
    return {
        "series": result.series,
        "django": result.version,
        "python": result.python,
        "detection_pythons": list(result.detection),
        "asgiref": result.asgiref,
        **run,
        "targets": {
            "one_call_ratio": ONE_CALL_TARGET,
            "detection_margin": DETECTION_MARGIN,
            "extra_calls": EXTRA_CALLS_TARGET,
        },
        "scenarios": [scenario_summary(result, scenario) for scenario in SCENARIOS],
        "detection": detection_summary(result),
    }


def hops_equal(summaries):
    return all(s["targets"]["hops"] for summary in summaries for s in summary["scenarios"])


TABLES = (
    PER_REQUEST,
    DETECTION,
    CHAIN_BUILD,
    HOPS,
    PYTHON_CALLS,
)


# BENCHMARKS.md ----------------------------------------------------------------


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_facts(valgrind_text, load):
    """This machine and its load (1-minute average) at the run's start and end."""
    return {
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "load_at_start": load[0],
        "load_at_end": load[1],
        "valgrind": valgrind_text or None,
    }


def machine_lines(machine):
    return [
        f"- machine: {machine['system']}, {machine['cpu']}, {machine['cpus']} CPUs",
        f"- load average (1 minute): {machine['load_at_start']:.2f} when the run started, "
        f"{machine['load_at_end']:.2f} when it ended",
        f"- valgrind: {machine['valgrind'] or 'not used (--no-callgrind)'}",
    ]


def version_lines(summaries):
    return [
        f"- series {s['series']}: Django {s['django']}, per-request "
        f"Python {s['python']}, detection Python "
        f"{', '.join(s['detection_pythons']) or s['python']}, asgiref {s['asgiref']}"
        for s in summaries
    ]


def method_text(sizes, command):
    return f"""## Method

Generated by `{command}`; regenerate it the same way, never edit it by hand.

- Trees: *patched* is the fork's `patched/<series>` branch; *pristine* is the same
  fork with `django/` exactly as released. Both run with the same interpreter (a
  virtualenv per series and Python), each first on `PYTHONPATH`; every worker
  reports the `django/__init__.py` it imported and the run stops if it is not the
  tree's own.
- Project: startproject's `MIDDLEWARE` and `INSTALLED_APPS`, read from each
  tree's `project_template`, SQLite in memory, `GET` requests that succeed (200).
  Requests are built before each loop; only `WSGIHandler.get_response()` or
  `ASGIHandler.get_response_async()` runs inside it.
- Scenarios: WSGI with a sync function view; ASGI with an async view; ASGI with an
  async view and an async-only class middleware (`async def __call__`) appended to
  the stack, marked with `markcoroutinefunction()` on pristine (as its docs
  require) and unmarked on patched.
- Series run one after the other, or up to `--jobs` at a time (each series'
  pristine and patched processes still alternate, so both see the same load).
- Time: {sizes.pairs} pairs of processes, pristine then patched (A B A B ...); each
  process warms up with {sizes.warmup} requests, then times {sizes.repeats} batches
  of {sizes.requests} requests; a process's figure is its median batch, a tree's is
  the median of its processes. The ratio is patched / pristine, with the range of
  the pairs' own ratios.
- Instructions: valgrind's callgrind, `PYTHONHASHSEED={HASH_SEED}`, counters zeroed on
  entering `{ZERO_MARKER}()` and dumped on entering `{DUMP_MARKER}()`, which the
  worker calls right before and after each request loop: only the loop is
  counted, after `gc.collect()` and `gc.freeze()`. WSGI: {sizes.callgrind_wsgi_requests}
  requests after {sizes.callgrind_wsgi_warmup} warm-up requests; ASGI:
  {sizes.callgrind_requests} requests after {sizes.callgrind_warmup} (an ASGI request
  costs ~14 times more under valgrind).
- Memory layout: a count repeats exactly only for one layout of the process.
  CPython's method cache is indexed by the address of the name looked up, so
  where Django's objects land decides how many lookups miss it, and the same
  code's count moves from one layout to another by more than the target. Each tree
  therefore runs in {sizes.callgrind_layouts} layouts (the worker
  first allocates 0, 1009, 2018, ... objects of mixed sizes and keeps them), the
  trees alternating; a tree's figure is the median of its layouts, and "layouts'
  spread" is how far one tree's layouts are apart (the wider of the two trees):
  a ratio within that spread is a difference memory layout alone makes. The
  padding does not reach every layout effect: a change to this benchmark's own
  code has moved a series' ratio by more than the spread, so read ratios a few
  tenths of a percent from 1 as layout, and the Python calls and "one call's
  ratio" as the patch's cost.
  "null change's ratio" is a control counted in the same runs: a third tree,
  the pristine release with one function that nothing calls appended to
  `django/utils/inspect.py` (marked middleware, as pristine), against
  pristine. The change runs no instruction in a request, so how far this
  ratio is from 1 is what a change of the code's size and place does through
  layout alone, the smallest difference this method can tell from noise.
  "one call's ratio" is the request plus what one more Python call costs,
  counted in the same runs: the handler's own `iscoroutinefunction(view)` is
  called {sizes.callgrind_calls} times bare and {sizes.callgrind_calls} times through a function
  that only calls it, each loop between the markers; the patch adds one call
  per request (see "Python calls"), so this ratio is its floor. Under
  ASGI the startproject middleware run in a thread (`sync_to_async`), and how
  the two threads hand over also varies from run to run, so the instruction
  ratio is reported beside the null change, not judged. Target: one call's
  ratio ≤ {ONE_CALL_TARGET}.
- Python calls: the same requests run with a profile function set on every
  thread (`sys.setprofile()`, `threading.setprofile()`), counting Python
  function calls by name, except calls into `threading.py` (how often one
  thread waits for another depends on timing). Unlike instructions, these do not
  depend on layout or thread hand-over; the table lists every function whose
  calls per request differ between the trees. Target: +1 call of
  `is_coroutine_callable` and no other difference.
- Detection: `timeit` batches of {sizes.detect_number} calls, {sizes.detect_repeats}
  batches per function, helper, `iscoroutinefunction` and a call-only function
  (`def call_only(obj): return iscoroutinefunction(obj)`) interleaved, best batch
  kept. `iscoroutinefunction` is the one Django's own code imports in that series.
  "call-only ratio" is what one extra Python call costs on that Python: no
  helper that calls `iscoroutinefunction` can be cheaper. Target: ratio ≤
  call-only ratio + {DETECTION_MARGIN} on plain functions (sync and async) and a
  bound method.
- Chain build: `load_middleware()` called {sizes.builds} times per process on the
  scenario's handler, median per process, then median of the processes.
- Thread hops: `SyncToAsync.__call__` and `AsyncToSync.__call__` are counted over
  {sizes.requests} requests after warm-up, in the run that counts Python calls;
  pristine (marked) and patched (unmarked) must be equal.
"""


def markdown_report(summaries):
    """BENCHMARKS.md, from the summaries of one run (they share its date, sizes,
    machine and command)."""
    run = summaries[0]
    return "\n".join(
        [
            "# Benchmarks: patched vs pristine Django",
            "",
            f"Measured {run['measured']}.",
            "",
            *machine_lines(run["machine"]),
            *version_lines(summaries),
            "",
            method_text(Sizes(**run["sizes"]), run["command"]),
            results_tables(summaries, TABLES),
            targets_text(summaries),
        ]
    )


# Entry point ------------------------------------------------------------------


def plan_pythons(release, python):
    """(per-request Python, detection Pythons) of a release."""
    if python is None:
        return release.pythons[0], list(release.pythons)
    chosen = selected_pythons(release, [python])
    if not chosen:
        raise CommandError.usage(
            f"Python {python} is not tested with series {release.series}",
            f"use one of {', '.join(release.pythons)} or a path to an interpreter",
        )
    return chosen[0], chosen


def command_line(series_names, python, quick, callgrind, jobs):
    parts = ["python3 scripts/patchset.py bench"]
    if jobs > 1:
        parts += ["--jobs", str(jobs)]
    if series_names:
        parts += ["--series", *series_names]
    if python:
        parts += ["--python", python]
    if quick:
        parts.append("--quick")
    if not callgrind:
        parts.append("--no-callgrind")
    return " ".join(parts)


def run_bench(manifest, series_names, python, workspace, quick, callgrind, markdown, jobs=1):
    """Measure each series, write markdown (a path or None); return the tables and,
    unless quick, each series' summary as evidence (bench-<series>), in an Outcome
    that fails if the thread hops differ (other missed targets are reported)."""
    releases = [manifest.release(name) for name in series_names or manifest.releases]
    plans = [(release, *plan_pythons(release, python)) for release in releases]
    if jobs < 1:
        raise CommandError.usage("--jobs must be at least 1", "pass e.g. --jobs 2")
    valgrind = valgrind_executable() if callgrind else None
    sizes = QUICK if quick else FULL
    load_at_start = os.getloadavg()[0]
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as executor:
        futures = [
            executor.submit(
                measure_series, release, request_python, detect_pythons, workspace, sizes, valgrind
            )
            for release, request_python, detect_pythons in plans
        ]
        results = [future.result() for future in futures]
    run = {
        "measured": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command_line(series_names, python, quick, callgrind, jobs),
        "sizes": dataclasses.asdict(sizes),
        "machine": machine_facts(
            valgrind_version(valgrind) if valgrind else "", (load_at_start, os.getloadavg()[0])
        ),
    }
    summaries = [summarise(result, run) for result in results]
    lines = ["", results_tables(summaries, TABLES)]
    lines.append(targets_text(summaries))
    if markdown:
        Path(markdown).write_text(markdown_report(summaries))
        lines.append(f"Wrote {markdown}")
    # Quick sizes show that the run works; their figures are not evidence.
    evidence = {} if quick else {f"bench-{s['series']}": s for s in summaries}
    return Outcome(hops_equal(summaries), lines, evidence, verdict=False)
