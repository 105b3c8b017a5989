"""The benchmarks' figures as text: the tables and the missed targets, rendered
from the per-series summaries bench computes (evidence/bench-<series>.json).
bench writes them into BENCHMARKS.md and case into UPSTREAM.md; both read the
same numbers and the targets bench judged on them, never a rendered cell."""

from functools import partial

from patchkit.core.report import markdown_table

PER_REQUEST = "Per request (median of the processes; instructions from callgrind)"
DETECTION = "Detection cost (best batch, patched tree)"
CHAIN_BUILD = "Middleware chain build, load_middleware() (median)"
HOPS = "Thread hops per request (sync_to_async / async_to_sync calls)"
PYTHON_CALLS = "Python function calls per request"


def verdict(met):
    """A target's cell: met, MISSED, or - where it is not judged (None)."""
    if met is None:
        return "-"
    return "met" if met else "MISSED"


def changes_text(changes):
    """{function: change in calls per request} as one cell."""
    return ", ".join(f"{change:+g} {function}" for function, change in changes.items()) or "none"


def scenario_rows(summaries, cells):
    """One row per series and scenario: series, Python, scenario title, *cells(scenario)."""
    return [
        [summary["series"], summary["python"], scenario["title"], *cells(scenario)]
        for summary in summaries
        for scenario in summary["scenarios"]
    ]


def per_request_cells(scenario):
    low, high = scenario["time_ratio_range"]
    cells = [
        f"{scenario['time_us']['pristine']:.1f}",
        f"{scenario['time_us']['patched']:.1f}",
        f"{scenario['time_ratio']:.3f} ({low:.3f}-{high:.3f})",
    ]
    if scenario["instructions"] is None:
        return cells + ["-"] * 6 + ["not measured"]
    return cells + [
        f"{scenario['instructions']['pristine']:,.0f}",
        f"{scenario['instructions']['patched']:,.0f}",
        f"{scenario['instruction_ratio']:.5f}",
        f"±{scenario['layouts_spread_percent']:.3f}%",
        f"{scenario['null_change_ratio']:.5f}",
        f"{scenario['one_call_ratio']:.5f}",
        verdict(scenario["targets"]["one_call"]),
    ]


def per_request_header(targets):
    return (
        "series",
        "Python",
        "scenario",
        "pristine µs",
        "patched µs",
        "time ratio (pairs' range)",
        "pristine instr/req",
        "patched instr/req",
        "instr ratio",
        "layouts' spread",
        "null change's ratio",
        "one call's ratio",
        f"one call ≤ {targets['one_call_ratio']}",
    )


def detection_rows(summaries):
    return [
        [
            summary["series"],
            case["python"],
            case["object"],
            f"{case['iscoroutinefunction_ns']:.0f}",
            f"{case['helper_ns']:.0f}",
            f"{case['ratio']:.3f}",
            f"{case['call_only_ratio']:.3f}",
            f"{case['answers']['iscoroutinefunction']} / {case['answers']['helper']}",
            verdict(case["target"]),
        ]
        for summary in summaries
        for case in summary["detection"]
    ]


def detection_header(targets):
    return (
        "series",
        "Python",
        "object",
        "iscoroutinefunction ns",
        "is_coroutine_callable ns",
        "ratio",
        "call-only ratio",
        "answers (iscf / helper)",
        f"≤ call-only + {targets['detection_margin']}",
    )


def chain_build_cells(scenario):
    build = scenario["chain_build_us"]
    return [
        f"{build['pristine']:.1f}",
        f"{build['patched']:.1f}",
        f"{scenario['chain_build_ratio']:.3f}",
    ]


def hop_cells(scenario):
    def cell(tree):
        hops = scenario["hops"][tree]
        return f"{hops['sync_to_async']:g} / {hops['async_to_sync']:g}"

    return [cell("pristine"), cell("patched"), "yes" if scenario["targets"]["hops"] else "NO"]


def python_call_cells(scenario):
    calls = scenario["python_calls"]
    return [
        f"{calls['pristine']:g}",
        f"{calls['patched']:g}",
        f"{calls['patched'] - calls['pristine']:+g}",
        changes_text(scenario["python_call_changes"]),
        verdict(scenario["targets"]["python_calls"]),
    ]


CHAIN_BUILD_HEADER = ("series", "Python", "scenario", "pristine µs", "patched µs", "ratio")
HOPS_HEADER = (
    "series",
    "Python",
    "scenario",
    "pristine (marked) s2a / a2s",
    "patched (unmarked) s2a / a2s",
    "equal",
)
PYTHON_CALLS_HEADER = (
    "series",
    "Python",
    "scenario",
    "pristine calls/req",
    "patched calls/req",
    "difference",
    "functions whose calls differ",
    "+1 call, nothing else",
)
# title -> (header from the targets, rows from the summaries)
SECTIONS = {
    PER_REQUEST: (per_request_header, partial(scenario_rows, cells=per_request_cells)),
    DETECTION: (detection_header, detection_rows),
    CHAIN_BUILD: (
        lambda targets: CHAIN_BUILD_HEADER,
        partial(scenario_rows, cells=chain_build_cells),
    ),
    HOPS: (lambda targets: HOPS_HEADER, partial(scenario_rows, cells=hop_cells)),
    PYTHON_CALLS: (
        lambda targets: PYTHON_CALLS_HEADER,
        partial(scenario_rows, cells=python_call_cells),
    ),
}


def section_table(title, summaries):
    """The Markdown table of one section, over every summary (the first one's
    targets head the verdict columns)."""
    header, rows = SECTIONS[title]
    return markdown_table(header(summaries[0]["targets"]), rows(summaries))


def results_tables(summaries, titles, heading="##"):
    """The sections named by titles, each a heading and its table."""
    return "\n".join(
        f"{heading} {title}\n\n{section_table(title, summaries)}\n" for title in titles
    )


def missed_targets(summaries):
    """One line per target a summary records as missed, with the figures it was
    judged on."""
    missed = []
    for summary in summaries:
        targets, series = summary["targets"], summary["series"]
        scenarios = summary["scenarios"]
        missed += [
            f"{series} {s['title']}: one Python call's ratio {s['one_call_ratio']:.5f} > "
            f"{targets['one_call_ratio']} (instructions ratio {s['instruction_ratio']:.5f}, "
            f"layouts' spread ±{s['layouts_spread_percent']:.3f}%, null change's ratio "
            f"{s['null_change_ratio']:.5f})"
            for s in scenarios
            if s["targets"]["one_call"] is False
        ]
        missed += [
            f"{series} Python {case['python']} {case['object']}: detection ratio "
            f"{case['ratio']:.3f} > call-only ratio {case['call_only_ratio']:.3f} + "
            f"{targets['detection_margin']}"
            for case in summary["detection"]
            if case["target"] is False
        ]
        missed += [
            f"{series} {s['title']}: Python calls per request differ by "
            f"{changes_text(s['python_call_changes'])}, not {changes_text(targets['extra_calls'])}"
            for s in scenarios
            if not s["targets"]["python_calls"]
        ]
        missed += [
            f"{series} {s['title']}: thread hops differ"
            for s in scenarios
            if not s["targets"]["hops"]
        ]
    return missed


def targets_text(summaries, heading="##"):
    missed = missed_targets(summaries)
    if not missed:
        return f"{heading} Targets\n\nAll targets met.\n"
    return f"{heading} Targets\n\nMissed:\n\n" + "".join(f"- {line}\n" for line in missed)
