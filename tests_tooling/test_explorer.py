"""The chain explorer's case generation, oracle and differential comparison."""

import ast

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
from patchkit.core.manifest import load_manifest

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
