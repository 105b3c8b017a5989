import dataclasses
import json

import pytest

import patchkit.benchmarks.bench as bench
from patchkit.benchmarks.bench import (
    SeriesResult,
    instructions_per_request,
    median,
    plan_pythons,
    ratio,
)
from patchkit.cli import main
from patchkit.core import benchfigures
from patchkit.core.benchfigures import missed_targets
from patchkit.core.evidence import evidence_path, read_evidence
from patchkit.core.manifest import Release


def test_median_of_odd_and_even_counts():
    assert median([3, 1, 2]) == 2
    assert median([4, 1, 3, 2]) == 2.5


def test_median_of_nothing_is_an_error():
    with pytest.raises(ValueError):
        median([])


def test_ratio_is_patched_over_pristine():
    assert ratio(101, 100) == 1.01
    assert ratio(1, 0) == float("inf")


def timing(ns):
    return {s: {"ns_per_request": ns, "chain_build_ns": ns} for s in bench.SCENARIOS}


def instructions(count):
    return {**{s: count for s in bench.SCENARIOS}, "call_bare": 5000, "call_only": 5050}


def hops(n, helper_calls=0):
    calls = {"get_response (base.py)": 3.0, "is_coroutine_callable (inspect.py)": helper_calls}
    return {
        s: {
            "sync_to_async": n,
            "async_to_sync": 0,
            "python_calls": {k: v for k, v in calls.items() if v},
        }
        for s in bench.SCENARIOS
    }


def result(pristine_instructions, patched_instructions, patched_hops=13, detection_ratio=1.0):
    detection = {
        "3.12": {
            case: {
                "helper_ns": 100 * detection_ratio,
                "baseline_ns": 100,
                "call_only_ns": 105,
                "helper_result": False,
                "baseline_result": False,
            }
            for case in ("sync function", "bound method", "partial")
        }
    }
    return SeriesResult(
        "6.1",
        "6.1.3",
        "3.12.1",
        "3.13.0",
        timing={"pristine": [timing(100), timing(100)], "patched": [timing(110), timing(100)]},
        callgrind={
            "pristine": [instructions(pristine_instructions)] * 2,
            "null": [instructions(pristine_instructions + 20)] * 2,
            "patched": [instructions(patched_instructions)] * 2,
        },
        hops={"pristine": hops(13), "patched": hops(patched_hops, helper_calls=1)},
        detection=detection,
    )


RUN = {"measured": "2026-12-02 05:03 UTC", "command": "bench", "sizes": {}, "machine": {}}


def summary(series_result):
    """The summary as evidence holds it: through JSON and back."""
    return json.loads(json.dumps(bench.summarise(series_result, RUN)))


def rows(series_result, cells):
    return benchfigures.scenario_rows([summary(series_result)], cells)


def test_the_summary_holds_numbers_and_judged_targets():
    wsgi = summary(result(100000, 100100))["scenarios"][0]
    assert wsgi["scenario"] == "wsgi_sync_view"
    assert wsgi["time_us"] == {"pristine": 0.1, "patched": 0.105}
    assert wsgi["time_ratio"] == 1.05
    assert wsgi["time_ratio_range"] == [1.0, 1.1]
    assert wsgi["instructions"] == {"pristine": 100000, "null": 100020, "patched": 100100}
    assert wsgi["instruction_ratio"] == pytest.approx(1.001)
    assert wsgi["layouts_spread_percent"] == 0
    assert wsgi["null_change_ratio"] == pytest.approx(1.0002)
    assert wsgi["one_call_ratio"] == pytest.approx(1.0005)
    assert wsgi["chain_build_us"] == {"pristine": 0.1, "patched": 0.105}
    assert wsgi["python_calls"] == {"pristine": 3, "patched": 4}
    assert wsgi["python_call_changes"] == {"is_coroutine_callable (inspect.py)": 1}
    assert wsgi["targets"] == {"one_call": True, "python_calls": True, "hops": True}


def test_per_request_row_shows_medians_ratios_and_verdict():
    row = rows(result(100000, 100100), benchfigures.per_request_cells)[0]
    assert row == [
        "6.1",
        "3.12.1",
        "WSGI, sync function view",
        "0.1",
        "0.1",
        "1.050 (1.000-1.100)",
        "100,000",
        "100,100",
        "1.00100",
        "±0.000%",
        "1.00020",
        "1.00050",
        "met",
    ]


def test_instructions_are_the_median_of_the_layouts_with_their_spread():
    counts = result(100000, 100000)
    counts.callgrind["pristine"] = [instructions(n) for n in (99500, 100000, 100500)]
    counts.callgrind["patched"] = [instructions(n) for n in (99000, 101000, 100050)]
    # The control's own layouts are wider still: the spread is the two trees'.
    counts.callgrind["null"] = [instructions(n) for n in (97000, 100300, 103000)]
    spread = summary(counts)["scenarios"][0]["layouts_spread_percent"]
    assert spread == pytest.approx(100 * (101000 - 99000) / 100050 / 2)
    row = rows(counts, benchfigures.per_request_cells)[0]
    assert row[6:] == ["100,000", "100,050", "1.00050", "±1.000%", "1.00300", "1.00050", "met"]


def test_python_calls_table_lists_the_functions_that_differ():
    row = rows(result(1, 1), benchfigures.python_call_cells)[0]
    assert row == [
        "6.1",
        "3.12.1",
        "WSGI, sync function view",
        "3",
        "4",
        "+1",
        "+1 is_coroutine_callable (inspect.py)",
        "met",
    ]
    same = result(1, 1)
    same.hops["patched"] = same.hops["pristine"]
    assert summary(same)["scenarios"][0]["targets"]["python_calls"] is False
    assert rows(same, benchfigures.python_call_cells)[0][-3:] == ["+0", "none", "MISSED"]


def test_detection_rows_show_the_call_only_floor():
    detected = summary(result(1, 1, detection_ratio=1.2))
    first = detected["detection"][0]
    assert first["ratio"] == pytest.approx(1.2)
    assert first["call_only_ratio"] == 1.05
    assert first["target"] is False
    # A partial is reported, not judged.
    assert [case["target"] for case in detected["detection"]] == [False, False, None]
    row = benchfigures.detection_rows([detected])[0]
    assert row[2:] == ["sync function", "100", "120", "1.200", "1.050", "False / False", "MISSED"]


def test_missed_targets_are_listed():
    costly_call = result(100000, 100200, patched_hops=14, detection_ratio=1.2)
    for runs in costly_call.callgrind.values():
        for run in runs:
            run["call_only"] = run["call_bare"] + 200
    missed = missed_targets([summary(costly_call)])
    assert (
        "6.1 WSGI, sync function view: one Python call's ratio 1.00200 > 1.0011 "
        "(instructions ratio 1.00200, layouts' spread ±0.000%, null change's ratio "
        "1.00020)"
    ) in missed
    assert (
        "6.1 Python 3.12 sync function: detection ratio 1.200 > call-only ratio 1.050 + 0.05"
    ) in missed
    assert (
        "6.1 Python 3.12 bound method: detection ratio 1.200 > call-only ratio 1.050 + 0.05"
    ) in missed
    assert not any("partial" in line for line in missed)
    assert "6.1 WSGI, sync function view: thread hops differ" in missed


def test_nothing_missed_when_targets_are_met():
    met = summary(result(100000, 100000))
    assert missed_targets([met]) == []
    assert benchfigures.targets_text([met]) == "## Targets\n\nAll targets met.\n"


def test_missed_targets_are_read_from_the_judged_booleans():
    """The lines come from the targets the summary records, with its numbers:
    nothing is judged again from a rendered cell."""
    judged = summary(result(100000, 100000))
    judged["detection"][1]["target"] = False
    judged["scenarios"][2]["targets"]["python_calls"] = False
    judged["scenarios"][2]["python_call_changes"] = {"helper (x.py)": 2}
    assert missed_targets([judged]) == [
        "6.1 Python 3.12 bound method: detection ratio 1.000 > call-only ratio 1.050 + 0.05",
        "6.1 ASGI, async view + async-only class middleware: Python calls per request "
        "differ by +2 helper (x.py), not +1 is_coroutine_callable",
    ]
    assert benchfigures.targets_text([judged], heading="####").startswith(
        "#### Targets\n\nMissed:\n\n- 6.1 Python 3.12 bound method: detection ratio 1.000"
    )


def test_instructions_per_request_reads_one_dump_per_scenario(tmp_path):
    out = tmp_path / "callgrind.out"
    for number, count in enumerate((1000, 2000), start=1):
        (tmp_path / f"callgrind.out.{number}").write_text(
            f"events: Ir\nsummary: {count}\ntotals: {count}\n"
        )
    assert instructions_per_request(out, ["a", "b"], {"a": 10, "b": 20}) == {"a": 100, "b": 100}


def test_a_missing_dump_is_an_operation_error(tmp_path):
    with pytest.raises(bench.CommandError, match="callgrind wrote no"):
        instructions_per_request(tmp_path / "callgrind.out", ["a"], {"a": 10})


def test_plan_pythons_defaults_to_the_first_for_requests():
    release = Release("5.2", "5.2.19", "0" * 64, ("3.10", "3.11"))
    assert plan_pythons(release, None) == ("3.10", ["3.10", "3.11"])
    assert plan_pythons(release, "3.11") == ("3.11", ["3.11"])


def test_bench_with_a_python_the_series_lacks_is_a_usage_error(project, capsys):
    assert main(["bench", "--python", "3.9", "--no-callgrind"]) == 2
    assert capsys.readouterr().err == (
        "error: Python 3.9 is not tested with series 6.1\n"
        "next step: use one of 3.12 or a path to an interpreter\n"
    )


def test_bench_with_an_unknown_series_is_a_usage_error(project, capsys):
    assert main(["bench", "--series", "9.9"]) == 2
    assert capsys.readouterr().err == (
        "error: unknown series '9.9'\nnext step: use one of: 6.1, 6.0\n"
    )


def test_bench_without_valgrind_says_how_to_install_it(project, monkeypatch, capsys):
    monkeypatch.setattr(bench.shutil, "which", lambda name: None)
    assert main(["bench", "--quick"]) == 1
    assert capsys.readouterr().err == (
        "error: valgrind is not installed (callgrind counts the instructions)\n"
        "next step: install it with `apt-get update && apt-get install -y valgrind` "
        "(as root), or pass --no-callgrind\n"
    )


def test_bench_has_help(capsys):
    assert main(["bench", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: patchset.py bench")


def test_bench_jobs_below_one_is_a_usage_error(project, capsys):
    assert main(["bench", "--jobs", "0", "--no-callgrind"]) == 2
    assert capsys.readouterr().err == (
        "error: --jobs must be at least 1\nnext step: pass e.g. --jobs 2\n"
    )


def test_markdown_report_has_method_tables_and_targets():
    run = {
        "measured": "2026-12-02 05:03 UTC",
        "command": "python3 scripts/patchset.py bench",
        "sizes": dataclasses.asdict(bench.FULL),
        "machine": bench.machine_facts("valgrind-3.19.0", (0.25, 1.5)),
    }
    text = bench.markdown_report(
        [bench.summarise(result(100000, 100200, detection_ratio=1.2), run)]
    )
    assert text.startswith(
        "# Benchmarks: patched vs pristine Django\n\nMeasured 2026-12-02 05:03 UTC.\n"
    )
    assert "- Time: 5 pairs of processes" in text
    assert "Generated by `python3 scripts/patchset.py bench`" in text
    assert "- valgrind: valgrind-3.19.0" in text
    assert "- load average (1 minute): 0.25 when the run started, 1.50 when it ended" in text
    assert "## Python function calls per request" in text
    assert "- series 6.1: Django 6.1.3, per-request Python 3.12.1" in text
    assert "| 6.1    | 3.12.1 | WSGI, sync function view" in text
    assert "Missed:\n\n- 6.1 Python 3.12 sync function: detection ratio 1.200" in text


def test_tables_without_callgrind_say_not_measured():
    no_counts = result(1, 1)
    no_counts.callgrind = {}
    wsgi = summary(no_counts)["scenarios"][0]
    assert wsgi["instructions"] is None
    assert wsgi["one_call_ratio"] is None
    assert wsgi["targets"]["one_call"] is None
    assert rows(no_counts, benchfigures.per_request_cells)[0][-1] == "not measured"
    assert "not measured" in benchfigures.results_tables([summary(no_counts)], bench.TABLES)
    assert missed_targets([summary(no_counts)]) == []


def test_the_null_tree_is_pristine_plus_a_function_nothing_calls(tmp_path):
    pristine = tmp_path / "pristine"
    (pristine / "django" / "utils").mkdir(parents=True)
    (pristine / "django" / "__init__.py").write_text("")
    (pristine / "django" / "utils" / "inspect.py").write_text("import inspect\n")
    null = bench.build_null_tree(pristine, tmp_path / "scratch")
    assert (null / "django" / "__init__.py").exists()
    module = (null / "django" / "utils" / "inspect.py").read_text()
    assert module == "import inspect\n" + bench.NULL_CHANGE
    compile(module, "inspect.py", "exec")
    assert (pristine / "django" / "utils" / "inspect.py").read_text() == "import inspect\n"


def measured_as(monkeypatch, series_result):
    """bench measures every series as series_result, without callgrind."""

    def measure_series(release, python_version, detect_pythons, workspace, sizes, valgrind):
        assert valgrind is None
        return dataclasses.replace(
            series_result, series=release.series, version=release.version, callgrind={}
        )

    monkeypatch.setattr(bench, "measure_series", measure_series)


def test_bench_writes_each_series_summary_as_evidence(project, monkeypatch, tmp_path, capsys):
    measured_as(monkeypatch, result(1, 1, detection_ratio=1.2))
    report = tmp_path / "BENCHMARKS.md"

    # Missed detection targets are reported; only differing thread hops fail.
    assert main(["bench", "--no-callgrind", "--output", str(report)]) == 0

    out = capsys.readouterr().out
    for series, version in (("6.1", "6.1.3"), ("6.0", "6.0.10")):
        written = read_evidence(f"bench-{series}")
        assert (written["series"], written["django"]) == (series, version)
        assert written["scenarios"][0]["python_calls"] == {"pristine": 3, "patched": 4}
        assert written["detection"][0]["target"] is False
        assert f"Summary written to {evidence_path(f'bench-{series}')}\n" in out
        assert f"- {series} Python 3.12 sync function: detection ratio 1.200" in out
    assert written["command"] == "python3 scripts/patchset.py bench --no-callgrind"
    assert written["machine"]["valgrind"] is None
    assert written["sizes"]["pairs"] == bench.FULL.pairs
    assert "| 6.0    | 3.12.1 | WSGI, sync function view" in report.read_text()
    assert "verdict:" not in out


def test_bench_fails_when_thread_hops_differ_and_quick_writes_no_evidence(
    project, monkeypatch, capsys
):
    measured_as(monkeypatch, result(1, 1, patched_hops=14))

    assert main(["bench", "--quick", "--no-callgrind", "--series", "6.1"]) == 1

    out = capsys.readouterr().out
    assert "- 6.1 ASGI, async view: thread hops differ\n" in out
    assert "| 13 / 0                      | 14 / 0                       | NO    |" in out
    assert not evidence_path("bench-6.1").exists()
    assert "Summary written" not in out
