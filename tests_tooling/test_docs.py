"""The upstream review package: lint, docs, ecosystem and case, on small inputs
built here (no network, no real Django)."""

import patchkit.review.docs as docsbuild
from patchkit.cli import main


def test_docs_warnings_compare_without_paths_and_line_numbers(tmp_path):
    patched, pristine = tmp_path / "patched", tmp_path / "pristine"
    before = [f"{pristine}/docs/topics/async.txt:10: WARNING: undefined label: 'x'"]
    after = [
        f"{patched}/docs/topics/async.txt:31: WARNING: undefined label: 'x'",
        f"{patched}/docs/topics/async.txt:40: WARNING: unknown document: 'y'",
    ]
    assert docsbuild.new_warnings(after, patched, before, pristine) == [
        "docs/topics/async.txt:40: WARNING: unknown document: 'y'"
    ]


def test_stdlib_references_count_as_offline_only():
    line = (
        "docs/releases/6.1.4.txt:12: WARNING: py:func reference target not found: "
        "inspect.markcoroutinefunction [ref.func]"
    )
    assert docsbuild.resolved_by_python_inventory(line)
    assert not docsbuild.resolved_by_python_inventory(
        line.replace("inspect.markcoroutinefunction", "django.utils.inspect.signature")
    )
    assert docsbuild.inventories_unreachable(
        ["WARNING: failed to reach any of the inventories with the following issues:"]
    )


def test_compare_only_needs_an_earlier_build(project, tmp_path, capsys):
    assert main(["docs", "--compare-only", "--workdir", str(tmp_path / "docs")]) == 1
    assert "error: no earlier `make html`" in capsys.readouterr().err


def test_spelling_warnings_compare_without_line_numbers(tmp_path):
    before = ["WARNING: topics/signals.txt:90: : Spell check: unawaited: an unawaited."]
    after = ["WARNING: topics/signals.txt:113: : Spell check: unawaited: an unawaited."]
    assert docsbuild.new_warnings(after, tmp_path, before, tmp_path) == []
