"""The chain explorer's case generation, oracle and differential comparison."""

import ast

from patchkit.checks import explorer
from patchkit.checks.explorer import (
    KINDS,
    MISDECLARED,
    WORKER_DIR,
    compare_reports,
    expected_result,
    generate_cases,
    series_topics,
)
from patchkit.cli import main
from patchkit.core import ledger
from patchkit.core.manifest import Release, load_manifest

FLAGS = {
    "mixin": [True, True],
    "sync_fn": [True, False],
    "async_fn": [False, True],
    "both_fn": [True, True],
    "async_unmarked": [False, True],
    "async_marked": [False, True],
    "async_slots": [False, True],
    "hybrid": [True, True],
    "factory_object": [False, True],
    "factory_partial": [False, True],
    "async_undeclared": [True, False],
    "async_both_flags": [True, True],
}


def case(handler, chain, view="sync"):
    return {"id": 0, "handler": handler, "chain": chain, "view": view}


def test_cases_are_the_same_for_the_same_seed_and_cover_short_chains():
    cases = generate_cases(500)
    assert cases == generate_cases(500)
    assert len(cases) == 1000
    wsgi = [(tuple(c["chain"]), c["view"]) for c in cases if c["handler"] == "wsgi"]
    asgi = [(tuple(c["chain"]), c["view"]) for c in cases if c["handler"] == "asgi"]
    assert wsgi == asgi
    assert len(set(wsgi)) == 500
    assert ((), "async") in wsgi and (("async_slots", "hybrid"), "sync") in wsgi
    assert max(len(chain) for chain, _ in wsgi) == 8


def test_valid_chain_promises_every_effect_in_order():
    assert expected_result(case("wsgi", ["mixin", "async_unmarked"]), FLAGS) == (
        "ok",
        ["mixin>", "async_unmarked>", "view", "async_unmarked<", "mixin<"],
        "async_unmarked,mixin",
    )


def test_async_call_where_django_picks_sync_mode_is_the_load_time_error():
    assert expected_result(case("asgi", ["async_undeclared"]), FLAGS) == (
        "load_error",
        MISDECLARED.format(kind="async_undeclared"),
    )
    # sync_capable too: fine above an async handler, misdeclared above a sync one.
    assert expected_result(case("asgi", ["async_both_flags"]), FLAGS)[0] == "ok"
    assert expected_result(case("wsgi", ["async_both_flags"]), FLAGS)[0] == "load_error"
    assert expected_result(case("asgi", ["async_both_flags", "sync_fn"]), FLAGS)[0] == (
        "load_error"
    )


def result(
    status=200, body="sync view", effects=(), x_chain="", outcome="ok", warnings=(), error=""
):
    return {
        "outcome": outcome,
        "error": error,
        "status": status,
        "body": body,
        "x_chain": x_chain,
        "effects": [list(e) for e in effects],
        "warnings": list(warnings),
    }


GOOD = result(
    effects=[("mixin>", "thread"), ("view", "thread"), ("mixin<", "thread")], x_chain="mixin"
)


def test_a_working_chain_that_changes_is_counted_and_reported():
    cases = [case("wsgi", ["mixin"])]
    moved = result(
        effects=[("mixin>", "loop"), ("view", "thread"), ("mixin<", "loop")], x_chain="mixin"
    )
    tallies, offenders = compare_reports(cases, [GOOD], [moved], FLAGS)
    assert tallies["wsgi"].changed_while_working == 1
    assert offenders[0][1].startswith("changed while working")


def test_broken_on_pristine_fixed_on_patched_is_not_a_change():
    cases = [case("asgi", ["mixin"])]
    warned = result(**{**GOOD, "warnings": ["RuntimeWarning: coroutine was never awaited"]})
    tallies, offenders = compare_reports(cases, [warned], [GOOD], FLAGS)
    assert (tallies["asgi"].broken_pristine, tallies["asgi"].fixed) == (1, 1)
    assert offenders == []


def test_an_error_on_pristine_that_patched_turns_into_the_load_error_is_counted():
    cases = [case("wsgi", ["async_undeclared"])]
    crashed = {
        "outcome": "error",
        "error": "AttributeError: 'coroutine' object",
        "effects": [],
        "warnings": [],
    }
    load_error = {
        "outcome": "load_error",
        "effects": [],
        "warnings": [],
        "error": MISDECLARED.format(kind="async_undeclared"),
    }
    tallies, offenders = compare_reports(cases, [crashed], [load_error], FLAGS)
    assert (tallies["wsgi"].broken_pristine, tallies["wsgi"].now_load_error) == (1, 1)
    assert offenders == []


def test_a_warning_on_patched_breaks_the_chain():
    cases = [case("wsgi", ["mixin"])]
    warned = result(**{**GOOD, "warnings": ["RuntimeWarning: never awaited"]})
    tallies, offenders = compare_reports(cases, [warned], [warned], FLAGS)
    assert tallies["wsgi"].broken_patched == 1
    assert offenders[0][1] == ("broken on patched: warnings: RuntimeWarning: never awaited")


def test_the_worker_catalogue_defines_every_kind():
    source = (WORKER_DIR / "chain_catalogue.py").read_text()
    defined = {
        node.name
        for node in ast.parse(source).body
        if isinstance(node, (ast.ClassDef, ast.FunctionDef))
    }
    assert set(KINDS) <= defined


def test_topics_come_from_the_patch_subjects(project):
    (project / "patches" / "6.1" / "0001-x.patch").write_text(
        "From 0 Mon Sep 17 00:00:00 2001\n"
        "Subject: [PATCH] Refs #34328 -- Made handlers detect instances with async\n"
    )
    (project / "patches" / "6.1" / "0002-x.patch").write_text(
        "From 0 Mon Sep 17 00:00:00 2001\n"
        "Subject: [PATCH] [6.1.x] Refs #34328 -- Made signals detect receivers with\n"
    )
    assert series_topics(load_manifest().release("6.1")) == {"middleware", "views", "signals"}


def test_zero_chains_is_a_usage_error(capsys):
    assert main(["explore", "--chains", "0"]) == 2
    assert capsys.readouterr().err.startswith("error: --chains must be at least 1\n")


def test_chains_and_deep_exclude_each_other(capsys):
    assert main(["explore", "--chains", "5", "--deep"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err


# The entry-point differential ------------------------------------------------------

LEDGER = """\
| id | series | configuration | differential cases |
|---|---|---|---|
| `changed` | 6.1, main | x | `signal/send_in_loop_*/async_call` |

| id | series | configuration | why | differential cases |
|---|---|---|---|---|
| `limited` | all | y | z | `view/sensitive_variables/async_call/*` |
"""


def entry_result(case_id, twin=None, **observation):
    return {
        "id": case_id,
        "twin": twin,
        "warnings": [],
        "logged": [],
        "effects": [],
        **observation,
    }


def judge(pristine, patched, ledger_text=LEDGER, series="6.1", tmp_path=None):
    path = tmp_path / "LEDGER.md"
    path.write_text(ledger_text)
    release = Release(series, "6.1.3", "0" * 64, ("3.12",))
    return explorer.compare_entry_points(pristine, patched, ledger.read_ledger(path), release)


OK_PAGE = {"status": 200, "body": "the page"}
ERROR_PAGE = {"status": 500, "body": "error"}


def test_a_listed_change_is_reproduced_and_an_unlisted_one_fails(tmp_path):
    pristine = [
        entry_result("signal/send_in_loop_awaited/async_call", result=["done"]),
        entry_result("signal/send/sync_function", result=["done"]),
        entry_result("view/sensitive_variables/async_call/wsgi", result=ERROR_PAGE),
    ]
    patched = [
        entry_result("signal/send_in_loop_awaited/async_call", error="RuntimeError: loop"),
        entry_result("signal/send/sync_function", result=["other"]),
        entry_result("view/sensitive_variables/async_call/wsgi", result=ERROR_PAGE),
    ]

    found = judge(pristine, patched, tmp_path=tmp_path)

    assert found.reproduced["changed"] == ["signal/send_in_loop_awaited/async_call"]
    assert found.problems == [
        ("signal/send/sync_function", "changed while working on pristine, not in LEDGER.md"),
        ("limited", "no case reproduces this ledger entry"),
    ]


def test_an_object_must_behave_as_its_async_def_twin(tmp_path):
    twin = "view/bare/async_function/wsgi"
    pristine = [
        entry_result(twin, result=OK_PAGE),
        entry_result("view/bare/async_call/wsgi", twin, result=ERROR_PAGE),
        entry_result(
            "view/sensitive_variables/async_call/wsgi",
            "view/sensitive_variables/async_function/wsgi",
            result=ERROR_PAGE,
        ),
        entry_result("view/sensitive_variables/async_function/wsgi", result=OK_PAGE),
        entry_result("signal/send_in_loop_awaited/async_call", result=["done"]),
    ]
    fixed = [dict(r) for r in pristine]
    fixed[1] = entry_result("view/bare/async_call/wsgi", twin, result=OK_PAGE)
    fixed[4] = entry_result("signal/send_in_loop_awaited/async_call", error="RuntimeError")
    half_fixed = [dict(r) for r in fixed]
    half_fixed[1] = entry_result(
        "view/bare/async_call/wsgi",
        twin,
        result=OK_PAGE,
        warnings=["UserWarning: async_to_sync was passed ..."],
    )

    assert judge(pristine, fixed, tmp_path=tmp_path).problems == []
    assert judge(pristine, fixed, tmp_path=tmp_path).counts["view"]["limitation"] == 1
    assert judge(pristine, half_fixed, tmp_path=tmp_path).problems == [
        ("view/bare/async_call/wsgi", f"patched, it does not behave as {twin}")
    ]


def test_a_ledger_entry_of_another_series_does_not_apply(tmp_path):
    pristine = [entry_result("signal/send_in_loop_awaited/async_call", result=["done"])]
    patched = [entry_result("signal/send_in_loop_awaited/async_call", error="RuntimeError")]

    found = judge(pristine, patched, series="4.2", tmp_path=tmp_path)

    assert (
        "signal/send_in_loop_awaited/async_call",
        "changed while working on pristine, not in LEDGER.md",
    ) in found.problems


def test_a_case_that_only_one_tree_has_is_a_problem(tmp_path):
    pristine = [entry_result("signal/asend/async_call", not_available="Signal.asend()")]
    patched = [entry_result("signal/asend/async_call", result=["done"])]

    assert ("signal/asend/async_call", "available on one tree only") in judge(
        pristine, patched, tmp_path=tmp_path
    ).problems


def test_the_projects_ledger_names_cases_for_every_entry():
    changes, limitations = ledger.read_ledger()

    assert {entry.id for entry in changes} >= {
        "signals-send-in-loop",
        "signals-receiver-runs",
        "user-passes-test-fail-open",
        "load-time-error",
    }
    assert all(entry.patterns for entry in [*changes, *limitations])


# The oracle's generated cases ------------------------------------------------------


def test_a_generated_case_is_matched_by_its_entry_point_and_form(tmp_path):
    """ "#gen7" names the callable; LEDGER.md's patterns see the entry point and form;
    a ledger entry no generated case shows is not a problem of the generated run."""
    case_id = "signal/send_in_loop_awaited/async_call#gen7"
    pristine = [entry_result(case_id, result=["done"])]
    patched = [entry_result(case_id, error="RuntimeError: loop")]
    path = tmp_path / "LEDGER.md"
    path.write_text(LEDGER)
    release = Release("6.1", "6.1.3", "0" * 64, ("3.12",))

    found = explorer.compare_entry_points(
        pristine, patched, ledger.read_ledger(path), release, every_entry_shown=False
    )

    assert found.problems == []
    assert found.reproduced["changed"] == [case_id]
    unlisted = explorer.compare_entry_points(
        [entry_result("signal/send/generated#gen3", result=["done"])],
        [entry_result("signal/send/generated#gen3", result=["other"])],
        ledger.read_ledger(path),
        release,
        every_entry_shown=False,
    )
    assert unlisted.problems == [
        ("signal/send/generated#gen3", "changed while working on pristine, not in LEDGER.md")
    ]
    broken = explorer.compare_entry_points(
        [entry_result("view/bare/generated/wsgi#gen4", error="AttributeError: a")],
        [entry_result("view/bare/generated/wsgi#gen4", error="AttributeError: b")],
        ledger.read_ledger(path),
        release,
        every_entry_shown=False,
    )
    assert broken.problems == []
    assert broken.counts["view"]["broken on both"] == 1


def test_a_generated_callable_takes_a_form_the_ledger_names():
    def verdict(tree, truth, release, outcome, limitation=None):
        return {
            "tree": tree,
            "truth": truth,
            "release": release,
            "outcome": outcome,
            "limitation": limitation,
            "does_its_job": True,
        }

    async_call = ["instance", "plain", "async", None]
    assert explorer.entry_alias(verdict(async_call, True, False, "fixed")) == (
        "async_call",
        "async_function",
    )
    assert explorer.entry_alias(verdict(["partial", async_call], True, False, "fixed")) == (
        "partial_async_call",
        "async_function",
    )
    subclass = ["partial_subclass", "inherited", async_call]
    assert explorer.entry_alias(verdict(subclass, True, False, "fixed")) == (
        "partial_async_call",
        "async_function",
    )
    # Returns an instance of a class, not its leaves' result: no twin to behave as.
    builds = verdict(["instance", "plain", "async", ["class_object", "async"]], True, False, "")
    builds["does_its_job"] = False
    assert explorer.entry_alias(builds) == ("async_call", None)
    lambda_tree = ["lambda", ["function", "async"]]
    limitation = verdict(lambda_tree, True, False, "limitation", "lambda-returning-coroutine")
    assert explorer.entry_alias(limitation) == ("lambda-returning-coroutine", None)
    marked = verdict(["mark_function", ["function", "sync"]], False, True, "marker")
    assert explorer.entry_alias(marked) == ("marked", None)
    assert explorer.entry_alias(verdict(["function", "async"], True, True, "agrees")) == (
        "generated",
        None,
    )


def test_the_release_predicate_is_the_one_the_handlers_import(tmp_path):
    base = tmp_path / "django" / "core" / "handlers" / "base.py"
    base.parent.mkdir(parents=True)
    base.write_text("from asgiref.sync import async_to_sync, iscoroutinefunction, sync_to_async\n")
    assert explorer.release_predicate_module(tmp_path) == "asgiref.sync"
    base.write_text("from inspect import iscoroutinefunction\n\nfrom asgiref.sync import x\n")
    assert explorer.release_predicate_module(tmp_path) == "inspect"


def test_zero_examples_is_a_usage_error(capsys):
    assert main(["explore", "--examples", "0"]) == 2
    assert capsys.readouterr().err.startswith("error: --examples must be at least 1\n")
