"""The upstream review package: lint, docs, ecosystem and case, on small inputs
built here (no network, no real Django)."""

import pytest

import patchkit.review.case as case


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
