"""The differential chain explorer: the same middleware chains, drawn from the
catalogue in explorer_worker/chain_catalogue.py, run through Django's real WSGI and
ASGI handlers in a pristine process and in a patched process; the two JSON reports
are checked against what each chain's flags promise and against each other."""

import dataclasses
import json
import os
import random
import subprocess
import tempfile
from pathlib import Path

from fork import build_reverted_tree, materialize_fork, series_patch_files
from redgreen import fork_dir, interpreter_for
from releases import SCRIPTS_DIR, OperationError, UsageError

WORKER_DIR = SCRIPTS_DIR / "payloads" / "explorer_worker"
SUPPORT_DIR = SCRIPTS_DIR / "payloads" / "support"
HANDLERS = ("wsgi", "asgi")
SEED = 34328
CI_CHAINS = 2000
DEEP_CHAINS = 20000
MAX_LENGTH = 8
EXHAUSTIVE_LENGTH = 2  # every chain up to this long is tried, the rest are drawn
WORKER_TIMEOUT = 1800

# What calling each kind's instance returns, by construction: "async" (a coroutine
# from an async __call__ or function), "sync", or "either" (it follows the mode
# Django gives it). Flags come from the worker, which reads them off the classes.
NATURE = {
    "mixin": "either",
    "sync_fn": "sync",
    "async_fn": "async",
    "both_fn": "either",
    "async_unmarked": "async",
    "async_marked": "async",
    "async_slots": "async",
    "hybrid": "either",
    "factory_object": "async",
    "factory_partial": "async",
    "async_undeclared": "async",
    "async_both_flags": "async",
}
KINDS = list(NATURE)
VIEWS = ("sync", "async")
MISDECLARED = (
    "Middleware factory chain_catalogue.{kind} returned an asynchronous callable "
    "for a synchronous get_response. A middleware that only supports asynchronous "
    "mode must set async_capable = True and sync_capable = False. One that supports "
    "both modes must return a synchronous callable when get_response is synchronous."
)


# Patch subjects ("Made handlers detect ...") and what they bring into the checks.
SUBJECT_TOPICS = {"handlers": {"middleware", "views"}, "signals": {"signals"}}


def series_topics(release):
    """What the series' patches cover, from their subjects."""
    topics = set()
    for patch in series_patch_files(release):
        subject = next((line for line in patch.read_text().splitlines()
                        if line.startswith("Subject:")), "")
        for word, covered in SUBJECT_TOPICS.items():
            if f"Made {word} detect" in subject:
                topics |= covered
    return topics


# Kinds and views the unpatched releases already handle: every other drawn chain is
# made of these only, so that many chains work on pristine and the differential
# (identical behaviour patched) has plenty to compare.
PRISTINE_SAFE_KINDS = ["mixin", "sync_fn", "async_fn", "both_fn", "async_marked",
                       "hybrid", "factory_partial"]


def generate_cases(chains_per_handler, seed=SEED, kinds=KINDS, views=VIEWS):
    """Every chain up to EXHAUSTIVE_LENGTH with every view, then seeded random
    chains up to MAX_LENGTH, alternately from all kinds and views and from those
    pristine already handles, until chains_per_handler; each under both handlers."""
    combos = [((), view) for view in views]
    level = [()]
    for _ in range(EXHAUSTIVE_LENGTH):
        level = [chain + (kind,) for chain in level for kind in kinds]
        combos.extend((chain, view) for chain in level for view in views)
    rng = random.Random(seed)
    seen = set(combos)
    safe_kinds = [kind for kind in kinds if kind in PRISTINE_SAFE_KINDS]
    safe_views = [view for view in views if view in VIEWS]
    while len(combos) < chains_per_handler:
        length = rng.randint(EXHAUSTIVE_LENGTH + 1, MAX_LENGTH)
        kinds_now, views_now = ((safe_kinds, safe_views) if len(combos) % 2
                                else (kinds, views))
        combo = (tuple(rng.choice(kinds_now) for _ in range(length)),
                 rng.choice(views_now))
        if combo not in seen:
            seen.add(combo)
            combos.append(combo)
    combos = combos[:chains_per_handler]
    return [
        {"id": number, "handler": handler, "chain": list(chain), "view": view}
        for number, (handler, (chain, view)) in enumerate(
            (handler, combo) for handler in HANDLERS for combo in combos
        )
    ]


def expected_result(case, flags):
    """What the chain's flags promise, following load_middleware's choice of mode
    from the innermost middleware out: ("load_error", message) for a misdeclared
    chain, else ("ok", effects, x_chain)."""
    handler_is_async = case["handler"] == "asgi"
    for kind in reversed(case["chain"]):
        can_sync, can_async = flags[kind]
        if not handler_is_async and can_sync:
            middleware_is_async = False
        else:
            middleware_is_async = can_async
        if NATURE[kind] == "async" and not middleware_is_async:
            return ("load_error", MISDECLARED.format(kind=kind))
        handler_is_async = middleware_is_async
    chain = case["chain"]
    effects = [f"{kind}>" for kind in chain] + ["view"]
    effects += [f"{kind}<" for kind in reversed(chain)]
    return ("ok", effects, ",".join(reversed(chain)))


VIEW_BODIES = {
    "sync": "sync view",
    "async": "async view",
    "object": "object view",
    "object_decorated": "object view",
    "signal_sync": "signal received",
    "signal_async": "signal received",
}


def views_for(topics, django_major):
    """Function views always; object views and signal-sending views once the
    series' patches cover them (decorated object views: Django 5.0+ decorators)."""
    views = list(VIEWS)
    if "views" in topics:
        views.append("object")
        if django_major >= 5:
            views.append("object_decorated")
    if "signals" in topics:
        views += ["signal_sync", "signal_async"]
    return views


def expected_body(case):
    return VIEW_BODIES[case["view"]]


def patched_problem(case, result, flags):
    """Why the patched result breaks the promise of the chain's flags, or None."""
    expected = expected_result(case, flags)
    if result["warnings"]:
        return f"warnings: {'; '.join(result['warnings'])}"
    if expected[0] == "load_error":
        if result["outcome"] != "load_error" or result["error"] != expected[1]:
            return f"expected the load-time error, got {result['outcome']}: {result['error']}"
        return None
    if result["outcome"] != "ok":
        return f"{result['outcome']}: {result['error']}"
    effects = [label for label, _ in result["effects"]]
    if (result["status"], result["body"]) != (200, expected_body(case)):
        return f"response {result['status']} {result['body']!r}"
    if effects != expected[1]:
        return f"effects {effects}, expected {expected[1]}"
    if result["x_chain"] != expected[2]:
        return f"X-Chain {result['x_chain']!r}, expected {expected[2]!r}"
    return None


def works(case, result):
    """The chain returned the view's own response without any warning; a 500
    means Django converted an exception the chain raised."""
    return (result["outcome"] == "ok" and not result["warnings"]
            and (result["status"], result["body"]) == (200, expected_body(case)))


def observable(result):
    """What a working chain must keep identical: response, effects in order and
    where each ran (event loop or thread, i.e. the thread hops)."""
    return (result["status"], result["body"], result["x_chain"], result["effects"])


@dataclasses.dataclass
class Tally:
    tried: int = 0
    broken_pristine: int = 0
    broken_patched: int = 0
    changed_while_working: int = 0
    fixed: int = 0  # broken on pristine, working patched
    now_load_error: int = 0  # broken on pristine, the load-time error patched

    @property
    def working_pristine(self):
        """The chains the differential compares."""
        return self.tried - self.broken_pristine


def compare_reports(cases, pristine, patched, flags):
    """Tallies per handler and the offending cases (id, what went wrong)."""
    tallies = {handler: Tally() for handler in HANDLERS}
    offenders = []
    for case, before, after in zip(cases, pristine, patched):
        tally = tallies[case["handler"]]
        tally.tried += 1
        before_ok = works(case, before) and patched_problem(case, before, flags) is None
        if not before_ok:
            tally.broken_pristine += 1
        problem = patched_problem(case, after, flags)
        if problem:
            tally.broken_patched += 1
            offenders.append((case, f"broken on patched: {problem}"))
        if works(case, before) and (
            not works(case, after) or observable(before) != observable(after)
        ):
            tally.changed_while_working += 1
            offenders.append((case, "changed while working: pristine "
                              f"{observable(before)}, patched {observable(after)}"))
        elif not before_ok and problem is None:
            if after["outcome"] == "ok":
                tally.fixed += 1
            else:
                tally.now_load_error += 1
    return tallies, offenders


def format_tallies(tallies, title):
    columns = [
        ("chains tried", "tried"),
        ("broken on pristine", "broken_pristine"),
        ("working on pristine", "working_pristine"),
        ("broken on patched", "broken_patched"),
        ("changed while working", "changed_while_working"),
        ("fixed", "fixed"),
        ("now load-time error", "now_load_error"),
    ]
    total = Tally(**{
        field.name: sum(getattr(t, field.name) for t in tallies.values())
        for field in dataclasses.fields(Tally)
    })
    rows = [("handler", *(label for label, _ in columns))]
    for handler, tally in [*tallies.items(), ("total", total)]:
        rows.append((handler, *(str(getattr(tally, name)) for _, name in columns)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [f"Chain explorer: {title}"]
    lines += ["  " + "  ".join(v.rjust(w) if i else v.ljust(w)
                               for i, (v, w) in enumerate(zip(row, widths)))
              for row in rows]
    return "\n".join(lines)


def worker_env(tree):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tree), str(WORKER_DIR), str(SUPPORT_DIR)])
    # Warnings are recorded by the worker itself; none may be silenced or raised.
    env.pop("PYTHONWARNINGS", None)
    return env


def start_worker(python, tree, cases_path, results_path, log_path):
    command = [str(python), str(WORKER_DIR / "explore_chains.py"),
               str(cases_path), str(results_path)]
    log = open(log_path, "w")
    return subprocess.Popen(command, env=worker_env(tree), stdout=log,
                            stderr=subprocess.STDOUT), log


def read_report(results_path, tree, name, log_path):
    if not Path(results_path).exists():
        raise OperationError(
            f"the {name} chain run wrote no results:\n{Path(log_path).read_text()[-3000:]}",
            "fix the error above and run explore again",
        )
    report = json.loads(Path(results_path).read_text())
    expected_django = Path(tree) / "django" / "__init__.py"
    if Path(report["django_file"]).resolve() != expected_django.resolve():
        raise OperationError(
            f"the {name} chain run imported {report['django_file']}, not {expected_django}",
            "check PYTHONPATH and what is installed in the interpreter",
        )
    return report


def run_both(python, trees, cases, scratch):
    """Run the cases in one process per tree, side by side; return the reports."""
    cases_path = Path(scratch) / "cases.json"
    cases_path.write_text(json.dumps(cases))
    running = {}
    for name, tree in trees.items():
        print(f"Running {len(cases)} chains with the {name} django ({tree / 'django'})...",
              flush=True)
        results_path, log_path = Path(scratch) / f"{name}.json", Path(scratch) / f"{name}.log"
        process, log = start_worker(python, tree, cases_path, results_path, log_path)
        running[name] = (process, log, results_path, log_path)
    reports = {}
    for name, (process, log, results_path, log_path) in running.items():
        try:
            process.wait(timeout=WORKER_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        finally:
            log.close()
        reports[name] = read_report(results_path, trees[name], name, log_path)
    return reports


def explore_series(release, python, workdir, chains):
    fork = materialize_fork(fork_dir(workdir, release), release)
    interpreter = interpreter_for(python, release, workdir, fork)
    trees = {"pristine": build_reverted_tree(fork, release), "patched": fork}
    views = views_for(series_topics(release), int(release.version.split(".")[0]))
    print(f"Views: {', '.join(views)}", flush=True)
    cases = generate_cases(chains, views=views)
    with tempfile.TemporaryDirectory() as scratch:
        reports = run_both(interpreter, trees, cases, scratch)
    flags = reports["patched"]["flags"]
    if flags != reports["pristine"]["flags"] or set(flags) != set(KINDS):
        raise OperationError("the two chain runs disagree on the catalogue's flags",
                             "check scripts/payloads/explorer_worker/chain_catalogue.py")
    tallies, offenders = compare_reports(
        cases, reports["pristine"]["results"], reports["patched"]["results"], flags
    )
    title = (f"series {release.series} ({release.base_name}) on Python "
             f"{reports['patched']['python']}, seed {SEED}, {chains} chains per handler")
    return tallies, offenders, title


def run_explore(manifest, series_names, python, workdir, chains):
    """Explore each series; print the counts; 1 if any chain is broken on patched
    or changed while working."""
    if chains < 1:
        raise UsageError("--chains must be at least 1", "pass e.g. --chains 2000")
    releases = [manifest.release(name) for name in series_names or [manifest.default_series]]
    ok = True
    for release in releases:
        tallies, offenders, title = explore_series(
            release, python or release.pythons[0], workdir, chains
        )
        print(format_tallies(tallies, title))
        for case, problem in offenders[:20]:
            print(f"  {case['handler']} {case['chain']} view={case['view']}: {problem}")
        if len(offenders) > 20:
            print(f"  ... and {len(offenders) - 20} more")
        ok = ok and not offenders
    print(f"verdict: {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1
