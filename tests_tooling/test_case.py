"""The upstream review package: lint, docs, ecosystem and case, on small inputs
built here (no network, no real Django)."""

import pytest

import patchkit.review.case as case
from patchkit.core.evidence import read_evidence, write_evidence
from patchkit.core.manifest import Release


def test_render_fills_every_placeholder():
    assert case.render("a {{x}} b {{y}}", {"x": 1, "y": "two"}) == "a 1 b two"
    with pytest.raises(KeyError):
        case.render("{{missing}}", {})


def test_call_sites_name_the_enclosing_function(tmp_path):
    module = tmp_path / "django" / "core" / "handlers.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "from django.utils.inspect import is_coroutine_callable\n\n\n"
        "class Handler:\n    def load(self, mw):\n"
        "        return is_coroutine_callable(mw)\n\n\n"
        "def helper(view):\n    return inspect.is_coroutine_callable(view)\n"
    )
    assert case.call_sites(tmp_path, "is_coroutine_callable") == [
        ("django/core/handlers.py", 6, "Handler.load"),
        ("django/core/handlers.py", 10, "helper"),
    ]


CHECKLIST = """\
.. _patch-review-checklist:

Contribution checklist
======================

Intro.

All tickets
-----------

* Is the pull request a single squashed commit with a message that follows our
  :ref:`commit message format <committing-guidelines>`?

Documentation
-------------

* Are there any :ref:`spelling errors <documentation-spelling-check>`?

Deprecating a feature
---------------------

See the guide.
"""


def test_checklist_items_are_read_from_the_release_docs(tmp_path):
    path = tmp_path / case.CHECKLIST_FILE
    path.parent.mkdir(parents=True)
    path.write_text(CHECKLIST)
    assert case.checklist_items(tmp_path) == [
        (
            "All tickets",
            "Is the pull request a single squashed commit with a message "
            "that follows our :ref:`commit message format "
            "<committing-guidelines>`?",
        ),
        ("Documentation", "Are there any :ref:`spelling errors <documentation-spelling-check>`?"),
    ]


def test_checklist_marks_come_from_the_measurements():
    facts = {"spelling": (" ", "`make spelling` skipped: no apt-get")}
    assert case.checklist_evidence("Are there any spelling errors?", facts) == facts["spelling"]
    assert case.checklist_evidence("Something new?", facts)[0] == " "


def test_case_check_compares_with_the_date_the_document_gives():
    assert case.generated_date("computed when this file was generated\n(2026-11-24); none") == (
        "2026-11-24"
    )
    assert case.generated_date("# no date here") is None
    assert case.generated_date((case.project_dir() / "UPSTREAM.md").read_text())


def test_checklist_questions_lose_their_rest_markup():
    assert case.plain_rst(
        "Does the :doc:`coding style </internals/x>` conform? Are there ``black`` errors?"
    ) == ("Does the coding style conform?")
    assert case.plain_rst("At your option, submit a `Contributor License Agreement`_?") == (
        "At your option, submit a Contributor License Agreement?"
    )


def test_the_pull_request_section_is_counted_between_its_markers():
    document = "intro\n<!-- pr:start -->\n## 4\none\ntwo\n<!-- pr:end -->\nappendix\n"
    assert case.pr_section_lines(document) == 3


def bench_summary(series):
    """A bench summary of one scenario and one detection case, as bench writes it."""
    return {
        "series": series,
        "django": "6.1.3",
        "python": "3.12.1",
        "detection_pythons": ["3.12.1"],
        "asgiref": "3.13.0",
        "measured": "2026-12-02 05:03 UTC",
        "command": "python3 scripts/patchset.py bench --jobs 2",
        "sizes": {"pairs": 5},
        "machine": {
            "system": "Linux 6.18 x86_64",
            "cpu": "AMD EPYC",
            "cpus": 2,
            "load_at_start": 0.45,
            "load_at_end": 1.0,
            "valgrind": "valgrind-3.19.0",
        },
        "targets": {
            "one_call_ratio": 1.0011,
            "detection_margin": 0.05,
            "extra_calls": {"is_coroutine_callable": 1},
        },
        "scenarios": [
            {
                "scenario": "wsgi_sync_view",
                "title": "WSGI, sync function view",
                "time_us": {"pristine": 230.2, "patched": 211.1},
                "time_ratio": 0.917,
                "time_ratio_range": [0.618, 1.786],
                "instructions": {"pristine": 480053, "null": 479760, "patched": 479808},
                "instruction_ratio": 0.999489,
                "layouts_spread_percent": 0.38,
                "null_change_ratio": 0.99939,
                "one_call_ratio": 1.0008,
                "chain_build_us": {"pristine": 157.9, "patched": 118.7},
                "chain_build_ratio": 0.752,
                "hops": {
                    "pristine": {"sync_to_async": 0, "async_to_sync": 0},
                    "patched": {"sync_to_async": 0, "async_to_sync": 0},
                },
                "python_calls": {"pristine": 191.003, "patched": 192.003},
                "python_call_changes": {"is_coroutine_callable (inspect.py)": 1},
                "targets": {"one_call": True, "python_calls": True, "hops": True},
            }
        ],
        "detection": [
            {
                "python": "3.12.1",
                "object": "sync function",
                "iscoroutinefunction_ns": 1404,
                "helper_ns": 1937,
                "call_only_ns": 1442,
                "ratio": 1.3796,
                "call_only_ratio": 1.027,
                "answers": {"iscoroutinefunction": False, "helper": False},
                "target": False,
            }
        ],
    }


def test_the_cost_is_read_from_the_bench_evidence(tmp_path, monkeypatch):
    monkeypatch.setenv("PATCHSET_PROJECT", str(tmp_path))
    assert "Not run yet" in case.cost_sentence("main", read_evidence("bench-main"))
    write_evidence("bench-main", bench_summary("main"))

    sentence = case.cost_sentence("main", read_evidence("bench-main"))

    assert "191.003 → 192.003, +1 is_coroutine_callable (inspect.py)" in sentence
    assert "WSGI, sync function view on Python 3.12.1, `evidence/bench-main.json`" in sentence
    assert "instruction ratio of 0.99949 per request" in sentence
    assert "the layouts' own spread is ±0.380%" in sentence


def test_the_cost_without_callgrind_says_instructions_were_not_counted():
    summary = bench_summary("main")
    summary["scenarios"][0].update(instruction_ratio=None, layouts_spread_percent=None)
    sentence = case.cost_sentence("main", summary)
    assert sentence.endswith(
        "`evidence/bench-main.json`), instructions not counted (bench ran with `--no-callgrind`)."
    )


def test_benchmarks_are_rendered_from_the_evidence_of_the_series_that_have_it(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("PATCHSET_PROJECT", str(tmp_path))
    write_evidence("bench-main", bench_summary("main"))

    text = case.benchmarks_text({s: read_evidence(f"bench-{s}") for s in ("main", "6.1")})

    assert (
        "- `python3 scripts/patchset.py bench --jobs 2`, 2026-12-02 05:03 UTC, "
        "Linux 6.18 x86_64, 2 CPUs, load average 0.45 at the start and 1.00 at the "
        "end: series main\n"
    ) in text
    for fragment in (
        "#### Per request (median of the processes; instructions from callgrind)",
        "| main   | 3.12.1 | WSGI, sync function view | 230.2       | 211.1",
        "| 480,053            | 479,808           | 0.99949     | ±0.380%",
        "| main   | 3.12.1 | sync function | 1404                   | 1937",
        "#### Thread hops per request",
        "| 191.003            | 192.003           | +1",
    ):
        assert fragment in text
    assert "Middleware chain build" not in text
    assert (
        "#### Targets\n\nMissed:\n\n- main Python 3.12.1 sync function: detection ratio "
        "1.380 > call-only ratio 1.027 + 0.05"
    ) in text
    assert text.endswith("\n\nNot run on the current patches: 6.1.")


def test_stale_bench_evidence_reads_as_not_run(tmp_path, monkeypatch):
    monkeypatch.setenv("PATCHSET_PROJECT", str(tmp_path))
    write_evidence("bench-main", bench_summary("main"))
    (tmp_path / "patches" / "main").mkdir(parents=True)
    (tmp_path / "patches" / "main" / "0001-changed.patch").write_text("other patches\n")

    stale = {"main": read_evidence("bench-main")}

    assert case.benchmarks_text(stale) == (
        "*Not run yet: `python3 scripts/patchset.py bench` writes it.*"
    )
    assert case.cost_sentence("main", stale["main"]) == case.benchmarks_text(stale)


LEDGER = """\
| id | series | configuration | before (release) | after (series) | test | release note | differential cases |
|---|---|---|---|---|---|---|---|
| `a-change` | main, 6.1 | a receiver object | ignored | awaited | `t.T.test_a` | "Receivers are now ``awaited`` ..." | `signal/*` |
| `old-only` | 6.0 | x | y | z | `t.T.test_b` | "Not in main" | `x/*` |
"""  # noqa: E501


def test_release_note_gaps_name_ledger_entries_the_notes_lack(tmp_path, monkeypatch):
    from conftest import git

    monkeypatch.setenv("PATCHSET_PROJECT", str(tmp_path))
    (tmp_path / "LEDGER.md").write_text(LEDGER)
    fork = tmp_path / "fork"
    notes = fork / "docs" / "releases" / "6.2.txt"
    notes.parent.mkdir(parents=True)
    notes.write_text("Stub.\n")
    git(["init", "-q"], fork)
    git(["add", "-A"], fork)
    git(["-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "base"], fork)
    git(["tag", "upstream/6.1.3"], fork)
    release = Release("main", "6.1.3", "0" * 64, ("3.12",))

    assert case.release_note_gaps(fork, release) == ["a-change"]

    notes.write_text("Stub.\n\nReceivers are now\n``awaited`` when called.\n")
    git(["-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qam", "notes"], fork)

    assert case.release_note_gaps(fork, release) == []


def test_pr_proof_says_only_what_the_summaries_show():
    commits = {"ok": True}
    mutate = {"sites": 26, "killed": 25}
    ecosystem = {
        "main": {
            "packages": {
                "a": {"differing": []},
                "b": {"differing": [{"test": "t"}]},
                "c": {"error": "installing c failed:"},
            }
        },
        "6.1": None,
    }

    text = case.pr_proof(commits, mutate, ecosystem)

    assert text.startswith("Each commit's new tests fail without it and pass with it")
    assert "fails a test for only 25 of 26" in text
    assert "The own test suites of 2 third-party packages (a, b), on series main: 1 outcomes" in (
        text
    )
    nothing = case.pr_proof(None, None, {"main": None})
    assert "Each commit" not in nothing and "third-party packages" not in nothing
    assert nothing.count("Not run yet") == 3


def test_realpackages_sentence_reads_the_evidence():
    from patchkit.review.case import realpackages_sentence

    summary = {
        "packages": {"django-matt": "0.9.1", "django-htmx": "1.29.0"},
        "configurations": 72,
        "served": {"release": 34, "series": 72},
        "worse_outside_ledger": [],
    }
    assert realpackages_sentence(summary) == (
        "2 published packages (django-htmx 1.29.0, django-matt 0.9.1), 72 configurations "
        "of their middleware (positions in startproject's `MIDDLEWARE`, WSGI and ASGI): "
        "served on the release 34, with the series 72; worse than the release outside "
        "LEDGER.md: 0"
    )
    assert realpackages_sentence(None).startswith("not run on the current patches")
