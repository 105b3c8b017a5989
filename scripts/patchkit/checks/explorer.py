"""The differential chain explorer: the same middleware chains, drawn from the
catalogue in explorer_worker/chain_catalogue.py, run through Django's real WSGI and
ASGI handlers in a pristine process and in a patched process; the two JSON reports
are checked against what each chain's flags promise and against each other."""

import dataclasses
import fnmatch
import json
import random
import re
import tempfile
import time
from pathlib import Path

from patchkit.core.errors import CommandError
from patchkit.core.fork import series_topics
from patchkit.core.ledger import read_ledger
from patchkit.core.manifest import PAYLOADS_DIR, PROJECT_DIR
from patchkit.core.report import Outcome, progress, text_table
from patchkit.core.venvs import install_requirements
from patchkit.core.workers import run_side_by_side
from patchkit.core.workspace import prepare

WORKER_DIR = PAYLOADS_DIR / "explorer_worker"
ORACLE_DIR = PAYLOADS_DIR / "oracle_worker"
ORACLE_REQUIREMENTS = PROJECT_DIR / "requirements" / "oracle.txt"
CI_EXAMPLES = 1000  # generated callables judged at the helper, per series
ENTRY_TREES_SHARE = 10  # one in this many of them also runs at every entry point
SUPPORT_DIR = PAYLOADS_DIR / "support"
HANDLERS = ("wsgi", "asgi")
SEED = 34328
CI_CHAINS = 2000
DEEP_CHAINS = 20000
MAX_LENGTH = 8
EXHAUSTIVE_LENGTH = 2  # every chain up to this long is tried, the rest are drawn

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
# Kinds and views the unpatched releases already handle: every other drawn chain is
# made of these only, so that many chains work on pristine and the differential
# (identical behaviour patched) has plenty to compare.
PRISTINE_SAFE_KINDS = [
    "mixin",
    "sync_fn",
    "async_fn",
    "both_fn",
    "async_marked",
    "hybrid",
    "factory_partial",
]


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
        kinds_now, views_now = (safe_kinds, safe_views) if len(combos) % 2 else (kinds, views)
        combo = (tuple(rng.choice(kinds_now) for _ in range(length)), rng.choice(views_now))
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
    return (
        result["outcome"] == "ok"
        and not result["warnings"]
        and (result["status"], result["body"]) == (200, expected_body(case))
    )


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
            offenders.append(
                (
                    case,
                    "changed while working: pristine "
                    f"{observable(before)}, patched {observable(after)}",
                )
            )
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
    total = Tally(
        **{
            field.name: sum(getattr(t, field.name) for t in tallies.values())
            for field in dataclasses.fields(Tally)
        }
    )
    rows = [("handler", *(label for label, _ in columns))]
    for handler, tally in [*tallies.items(), ("total", total)]:
        rows.append((handler, *(str(getattr(tally, name)) for _, name in columns)))
    return f"Chain explorer: {title}\n" + text_table(rows, indent="  ", right_align_numbers=True)


def explore_series(release, python, workspace, chains, examples=CI_EXAMPLES, expected_gone=()):
    prepared, interpreter = prepare(release, workspace, python)
    install_requirements(interpreter, ORACLE_REQUIREMENTS)
    trees = {"pristine": prepared.reverted, "patched": prepared.fork}
    views = views_for(series_topics(release), int(release.version.split(".")[0]))
    progress(f"Views: {', '.join(views)}")
    cases = generate_cases(chains, views=views)
    with tempfile.TemporaryDirectory() as scratch:
        cases_path = Path(scratch) / "cases.json"
        cases_path.write_text(json.dumps(cases))
        reports = run_side_by_side(
            interpreter,
            trees,
            WORKER_DIR / "explore_chains.py",
            [cases_path],
            scratch,
            "explore",
            f"{len(cases)} chains",
            paths=[SUPPORT_DIR],
        )
        entry_reports = run_side_by_side(
            interpreter,
            trees,
            WORKER_DIR / "explore_entry_points.py",
            [],
            scratch,
            "explore",
            "the entry points",
            paths=[SUPPORT_DIR],
        )
        oracle = run_oracle(release, prepared, interpreter, scratch, examples)
    flags = reports["patched"]["flags"]
    if flags != reports["pristine"]["flags"] or set(flags) != set(KINDS):
        raise CommandError(
            "the two chain runs disagree on the catalogue's flags",
            "check scripts/payloads/explorer_worker/chain_catalogue.py",
        )
    tallies, offenders = compare_reports(
        cases, reports["pristine"]["results"], reports["patched"]["results"], flags
    )
    title = (
        f"series {release.series} ({release.base_name}) on Python "
        f"{reports['patched']['python']}, seed {SEED}, {chains} chains per handler"
    )
    ledger = read_ledger()
    entry_points = compare_entry_points(
        entry_reports["pristine"]["results"],
        entry_reports["patched"]["results"],
        ledger,
        release,
        every_entry_shown=False,
    )
    # An entry counts as shown if the catalogue or the oracle (at the entry points or
    # at the helper) reproduces it.
    shown = [entry_points.reproduced, oracle["entry_points"].reproduced, oracle["limitations"]]
    problems, gone = unshown_entries(ledger, release, shown, expected_gone)
    entry_points.problems.extend(problems)
    entry_points.gone.extend(gone)
    return tallies, offenders, title, entry_points, reports["patched"]["python"], oracle


def run_explore(manifest, series_names, python, workspace, chains, examples=CI_EXAMPLES):
    """Explore each series; the Outcome holds the counts and fails if any chain is
    broken on patched or changed while working, or the oracle finds a failure."""
    if chains < 1:
        raise CommandError.usage("--chains must be at least 1", "pass e.g. --chains 2000")
    if examples < 1:
        raise CommandError.usage(
            "--examples must be at least 1", f"pass e.g. --examples {CI_EXAMPLES}"
        )
    releases = [manifest.release(name) for name in series_names or [manifest.default_series]]
    ok = True
    lines, evidence = [], {}
    # With the asgiref series, the limitations asgiref causes must be gone.
    expected_gone = manifest.asgiref_removes_limitations if workspace.asgiref else ()
    for release in releases:
        tallies, offenders, title, entry_points, ran_on, oracle = explore_series(
            release, python, workspace, chains, examples, expected_gone
        )
        if workspace.asgiref:
            title += f", with the asgiref series on asgiref {workspace.asgiref.version}"
        lines.append(format_tallies(tallies, title))
        for case, problem in offenders[:20]:
            lines.append(f"  {case['handler']} {case['chain']} view={case['view']}: {problem}")
        if len(offenders) > 20:
            lines.append(f"  ... and {len(offenders) - 20} more")
        lines.append(format_entry_points(entry_points, release))
        lines.append(format_oracle(oracle, release))
        series_ok = not offenders and not entry_points.problems
        oracle_ok = not oracle["failures"] and not oracle["entry_points"].problems
        ok = ok and series_ok and oracle_ok
        if workspace.asgiref:
            continue  # evidence/ records the released asgiref's runs only
        evidence[f"explore-{release.series}"] = {
            "series": release.series,
            "version": release.version,
            "python": ran_on,
            "chains_per_handler": chains,
            "ok": series_ok,
            "chains": {h: dataclasses.asdict(t) for h, t in tallies.items()},
            "entry_points": entry_points.counts,
            "ledger_cases": {k: len(v) for k, v in entry_points.reproduced.items()},
            "problems": len(offenders) + len(entry_points.problems),
        }
        evidence[f"oracle-{release.series}"] = oracle_evidence(oracle, release, ran_on)
    return Outcome(ok, lines, evidence)


# The entry-point differential ------------------------------------------------------
# Every entry point the series changes (views under each decorator, user_passes_test
# test functions, signal receivers, RemoteUserMiddleware and MiddlewareMixin chains,
# middleware never reached, both handlers from one settings module), each case run on
# both trees by explorer_worker/explore_entry_points.py. A case whose outcome differs
# must be listed in LEDGER.md, unless it was broken on pristine and its async-callable
# object now behaves exactly like its twin (the same case with an `async def`
# function); a ledger entry that no case reproduces is a failure too.


def matching_entry(case_id, entries):
    """The entry whose patterns match case_id; a generated case ("...#gen7") is
    matched by the id of its entry point and form."""
    case_id = case_id.split("#")[0]
    return next(
        (e for e in entries if any(fnmatch.fnmatchcase(case_id, p) for p in e.patterns)), None
    )


def case_observation(result):
    return {key: value for key, value in result.items() if key not in ("id", "twin")}


def case_works(result):
    """No exception, no warning, nothing logged, no 5xx response."""
    if "error" in result or result.get("warnings") or result.get("logged"):
        return False
    outcome = result.get("result")
    responses = [outcome, *outcome.values()] if isinstance(outcome, dict) else []
    return not any(isinstance(r, dict) and r.get("status", 200) >= 500 for r in responses)


@dataclasses.dataclass
class EntryPoints:
    counts: dict  # family -> {column: count}
    problems: list  # (case id, what is wrong)
    reproduced: dict  # ledger id -> case ids that show it
    gone: list = dataclasses.field(default_factory=list)  # expected gone, and gone


ENTRY_COLUMNS = (
    "cases",
    "n/a",
    "same",
    "broken on both",
    "fixed",
    "in the ledger",
    "limitation",
    "problems",
)


def compare_entry_points(
    pristine, patched, ledger, release, every_entry_shown=True, expected_gone=()
):
    """expected_gone: ids of limitations that must not reproduce (the asgiref
    series removes them)."""
    changes, limitations = ([e for e in entries if e.applies_to(release)] for entries in ledger)
    before = {result["id"]: result for result in pristine}
    after = {result["id"]: result for result in patched}
    counts, problems = {}, []
    reproduced = {entry.id: [] for entry in [*changes, *limitations]}
    if set(before) != set(after):
        problems.append(("*", "the two trees ran different cases"))
    for case_id, old in before.items():
        new = after.get(case_id, {"error": "missing"})
        family = counts.setdefault(case_id.split("/")[0], dict.fromkeys(ENTRY_COLUMNS, 0))
        family["cases"] += 1
        column, problem = judge_case(case_id, old, new, after, changes)
        if problem and column == "problems" and problem.startswith(TWIN_PROBLEM):
            limitation = matching_entry(case_id, limitations)
            if limitation:
                reproduced[limitation.id].append(case_id)
                column, problem = "limitation", None
        if column == "in the ledger":
            reproduced[matching_entry(case_id, changes).id].append(case_id)
        family[column] += 1
        if problem:
            problems.append((case_id, problem))
    gone = []
    if every_entry_shown:
        unshown, gone = unshown_entries(ledger, release, [reproduced], expected_gone)
        problems.extend(unshown)
    return EntryPoints(counts, problems, reproduced, gone)


def unshown_entries(ledger, release, shown, expected_gone=()):
    """(problems, gone): a problem for each ledger entry of the series that names no
    differential case or that none of the shown maps (ledger id -> cases or count)
    reproduces, or that reproduces although expected gone."""
    problems, gone = [], []
    for entry in [e for entries in ledger for e in entries if e.applies_to(release)]:
        found = any(found.get(entry.id) for found in shown)
        if entry.id in expected_gone:
            if found:
                problems.append((entry.id, "still reproduced with the asgiref series"))
            else:
                gone.append(entry.id)
        elif not entry.patterns:
            problems.append((entry.id, "the ledger entry names no differential case"))
        elif not found:
            problems.append((entry.id, "no case reproduces this ledger entry"))
    return problems, gone


TWIN_PROBLEM = "patched, it does not behave as "


def judge_case(case_id, old, new, after, changes):
    """(the column the case counts in, the problem or None)."""
    if "not_available" in old and "not_available" in new:
        return "n/a", None
    if ("not_available" in old) != ("not_available" in new):
        return "problems", "available on one tree only"
    twin = after.get(new.get("twin") or "")
    unlike_twin = twin is not None and case_observation(new) != case_observation(twin)
    changed = case_observation(old) != case_observation(new)
    if changed:
        if matching_entry(case_id, changes):
            return "in the ledger", None
        if case_works(old):
            return "problems", "changed while working on pristine, not in LEDGER.md"
        if twin is None and "#gen" in case_id:
            # A generated callable with no twin that did not work: nothing to hold it to.
            return "broken on both", None
        if twin is None:
            return "problems", "changed, not in LEDGER.md"
    if unlike_twin:
        return "problems", TWIN_PROBLEM + twin["id"]
    if changed:
        return "fixed", None
    return ("same", None) if case_works(new) else ("broken on both", None)


def format_entry_points(entry_points, release):
    rows = [("family", *ENTRY_COLUMNS)]
    for family, counts in entry_points.counts.items():
        rows.append((family, *(counts[column] for column in ENTRY_COLUMNS)))
    total = {c: sum(counts[c] for counts in entry_points.counts.values()) for c in ENTRY_COLUMNS}
    rows.append(("total", *(total[column] for column in ENTRY_COLUMNS)))
    lines = [
        f"Entry points: series {release.series}, every case on both trees",
        text_table(rows, indent="  ", right_align_numbers=True),
    ]
    for ledger_id, case_ids in entry_points.reproduced.items():
        gone = (
            " (gone, as expected with the asgiref series)"
            if ledger_id in entry_points.gone
            else ""
        )
        lines.append(f"  LEDGER.md {ledger_id}: {len(case_ids)} case(s){gone}")
    for case_id, problem in entry_points.problems[:40]:
        lines.append(f"  PROBLEM {case_id}: {problem}")
    if len(entry_points.problems) > 40:
        lines.append(f"  ... and {len(entry_points.problems) - 40} more")
    return "\n".join(lines)


# The ground-truth oracle ---------------------------------------------------------
# Generated callables (oracle_worker/oracle_core.py, Hypothesis, seeded) judged by
# calling them: at the helper in the patched tree (no false positive unless the
# release's iscoroutinefunction() says async too; no false negative unless the
# release says sync too and LEDGER.md lists the shape as a limitation), then a share
# of them at the entry points on both trees, judged like the catalogue's cases
# (ledger rule, twin rule: a callable the oracle calls async behaves as its twin).

RELEASE_PREDICATE = re.compile(r"^from asgiref\.sync import [^\n]*\biscoroutinefunction\b", re.M)


def release_predicate_module(tree):
    """Where the release's iscoroutinefunction() comes from: asgiref.sync where its
    handlers import it from there (4.2 to 6.0), else inspect (6.1 and main)."""
    source = (Path(tree) / "django" / "core" / "handlers" / "base.py").read_text()
    return "asgiref.sync" if RELEASE_PREDICATE.search(source) else "inspect"


def entry_alias(verdict):
    """The form segment of a generated callable's case ids, and its twin's form:
    LEDGER.md patterns name forms, so an object the release missed and calling shows
    async is an "async_call" (a "partial_async_call" under partial's own __call__),
    held to its `async def` twin if it does its leaves' job (it returns their result,
    awaited); one behind a LEDGER.md limitation takes the limitation's id, no twin."""
    if verdict["truth"] and verdict["release"] is False:
        if verdict.get("limitation"):  # listed or not: the helper phase judges that
            return verdict["limitation"], None
        root = verdict["tree"]
        partial = root[0] == "partial" or list(root[:2]) == ["partial_subclass", "inherited"]
        twin = "async_function" if verdict.get("does_its_job") else None
        return f"{'partial_' if partial else ''}async_call", twin
    if verdict["release"] is True and not verdict["truth"]:
        return "marked", None
    return "generated", None


def run_oracle(release, prepared, interpreter, scratch, examples):
    changes, limitations = read_ledger()
    limitation_ids = sorted(entry.id for entry in limitations if entry.applies_to(release))
    module = release_predicate_module(prepared.reverted)
    config = Path(scratch) / "oracle-config.json"
    config.write_text(
        json.dumps(
            {
                "predicate_module": module,
                "limitations": limitation_ids,
                "examples": examples,
                "keep": max(1, examples // ENTRY_TREES_SHARE),
            }
        )
    )
    started = time.monotonic()
    helper = run_side_by_side(
        interpreter,
        {"patched": prepared.fork},
        ORACLE_DIR / "oracle_helper.py",
        [config],
        scratch,
        "explore",
        f"the oracle ({examples} generated callables) at the helper",
    )["patched"]
    trees = []
    for verdict in helper["trees"]:
        alias, twin = entry_alias(verdict)
        trees.append({"tree": verdict["tree"], "alias": alias, "twin": twin})
    cases = Path(scratch) / "oracle-cases.json"
    cases.write_text(json.dumps({"mark_module": module, "trees": trees}))
    entry_reports = run_side_by_side(
        interpreter,
        {"pristine": prepared.reverted, "patched": prepared.fork},
        ORACLE_DIR / "oracle_entry_points.py",
        [cases],
        scratch,
        "explore",
        f"{len(trees)} generated callables at the entry points",
        paths=[SUPPORT_DIR, WORKER_DIR],
    )
    entry_points = compare_entry_points(
        entry_reports["pristine"]["results"],
        entry_reports["patched"]["results"],
        (changes, limitations),
        release,
        every_entry_shown=False,
    )
    return {
        "predicate_module": module,
        "limitation_ids": limitation_ids,
        "examples": helper["examples"],
        "counts": helper["counts"],
        "limitations": helper["limitations"],
        "failures": helper["failures"],
        "asgiref_counts": helper.get("asgiref_counts"),
        "helper_seconds": helper["seconds"],
        "entry_trees": len(trees),
        "entry_points": entry_points,
        "seconds": round(time.monotonic() - started, 1),
    }


def format_oracle(oracle, release):
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(oracle["counts"].items()))
    lines = [
        f"Oracle: series {release.series}, {oracle['examples']} generated callables judged by "
        f"calling them (release predicate: {oracle['predicate_module']}."
        f"iscoroutinefunction, {oracle['seconds']} s): {counts}",
    ]
    for limitation, n in sorted(oracle["limitations"].items()):
        lines.append(f"  LEDGER.md {limitation}: {n} callable(s)")
    if oracle.get("asgiref_counts"):
        judged = ", ".join(
            f"{n} {outcome}" for outcome, n in sorted(oracle["asgiref_counts"].items())
        )
        lines.append(f"  asgiref series' _is_coroutine_callable(), same callables: {judged}")
    for failure in oracle["failures"]:
        lines.append("  " + failure["text"].rstrip().replace("\n", "\n    "))
    entry_points = format_entry_points(oracle["entry_points"], release)
    lines.append(
        entry_points.replace(
            "Entry points: series", f"Oracle entry points ({oracle['entry_trees']} callables):", 1
        )
    )
    return "\n".join(lines)


def oracle_evidence(oracle, release, ran_on):
    entry_points = oracle["entry_points"]
    return {
        "series": release.series,
        "version": release.version,
        "python": ran_on,
        "ok": not oracle["failures"] and not entry_points.problems,
        "release_predicate": f"{oracle['predicate_module']}.iscoroutinefunction",
        "examples": oracle["examples"],
        "outcomes": oracle["counts"],
        "limitations": oracle["limitations"],
        "failures": [
            {"outcome": f["outcome"], "shape": list(f["shape"]), "code": f["code"]}
            for f in oracle["failures"]
        ],
        "entry_point_callables": oracle["entry_trees"],
        "entry_points": entry_points.counts,
        "entry_point_problems": len(entry_points.problems),
        "first_entry_point_problems": [list(problem) for problem in entry_points.problems[:20]],
        "seconds": oracle["seconds"],
    }
