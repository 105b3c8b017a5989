from patchkit.core.fork import defined_test_ids
from patchkit.core.runtests import compare_outcomes, format_comparison

NEW = "middleware.tests.AsyncCallableTests.test_new"
OLD = "middleware.tests.OldTests.test_old"


def test_new_test_red_then_green_and_others_unchanged_pass():
    comparison = compare_outcomes(
        {NEW}, patched={NEW: "pass", OLD: "fail"}, reverted={NEW: "fail", OLD: "fail"}
    )
    assert comparison.ok
    assert comparison.red_green == [NEW]
    assert comparison.unchanged == 1


def test_new_test_passing_on_the_reverted_tree_is_a_violation():
    comparison = compare_outcomes({NEW}, patched={NEW: "pass"}, reverted={NEW: "pass"})
    assert not comparison.ok
    assert comparison.violations == [(NEW, "pass", "pass", "new test must be red then green")]


def test_changed_outcome_of_an_existing_test_is_a_violation():
    comparison = compare_outcomes(set(), patched={OLD: "error"}, reverted={OLD: "pass"})
    assert comparison.violations == [(OLD, "pass", "error", "outcome changed")]
    table = format_comparison(comparison, "series 6.1")
    assert f"    {OLD}: reverted pass, patched error (outcome changed)" in table
    assert table.startswith("verdict: FAILED (red/green, series 6.1)\n")


def test_no_new_tests_and_same_outcomes_pass_trivially():
    comparison = compare_outcomes(set(), patched={OLD: "pass"}, reverted={OLD: "pass"})
    assert comparison.ok
    assert format_comparison(comparison, "x").startswith("verdict: OK (red/green, x)\n")


def test_load_failures_are_reported():
    failed = "unittest.loader._FailedTest.middleware"
    comparison = compare_outcomes(set(), patched={failed: "error"}, reverted={failed: "error"})
    assert comparison.load_failures == [(failed, "patched"), (failed, "reverted")]
    assert comparison.ok is False


def test_test_ids_include_methods_inherited_in_the_module():
    source = (
        "class Base:\n    def test_a(self): pass\n    def helper(self): pass\n"
        "class Child(Base):\n    async def test_b(self): pass\n"
    )
    assert defined_test_ids("app.tests", source) == {
        "app.tests.Base.test_a",
        "app.tests.Child.test_a",
        "app.tests.Child.test_b",
    }


def test_new_tests_outside_the_labels_that_ran_are_not_expected():
    other = "signals.tests.NewTests.test_new"
    comparison = compare_outcomes(
        {NEW, other}, patched={NEW: "pass"}, reverted={NEW: "error"}, labels=["middleware"]
    )
    assert comparison.ok
    assert comparison.new_tests == [NEW]


def test_new_test_skipped_on_both_trees_is_listed_not_a_violation():
    comparison = compare_outcomes({NEW}, patched={NEW: "skip"}, reverted={NEW: "skip"})
    assert comparison.ok
    assert comparison.skipped_new == [NEW]
    assert "  new, skipped on both   1" in format_comparison(comparison, "x")


class RecordingListener:
    def __init__(self, live):
        self.live, self.lines, self.statuses = live, [], []

    def line(self, text):
        self.lines.append(text)

    def status(self, text):
        self.statuses.append(text)


def board_progress(tmp_path, live, found):
    """Finish found tests one at a time under a ProgressBoard; return the listener
    that got its progress."""
    from patchkit.core.report import set_progress
    from patchkit.core.runtests import ProgressBoard

    listener = RecordingListener(live)
    previous = set_progress(listener)
    try:
        board = ProgressBoard(quiet_every=3600)
        progress = tmp_path / "progress"
        board.add("patched", progress)
        for done in range(0, found + 1):
            progress.write_text(f"{found}\n" + "." * done)
            board.tick()
        board.remove("patched")
    finally:
        set_progress(previous)
    return listener


def test_plain_progress_prints_a_line_per_quarter_not_per_interval(tmp_path):
    listener = board_progress(tmp_path, live=False, found=100)

    assert listener.statuses == []
    assert [line.split(" tests")[0] for line in listener.lines] == [
        "  patched 25/100",
        "  patched 50/100",
        "  patched 75/100",
    ]


def test_on_a_terminal_progress_rewrites_one_status_line_then_clears_it(tmp_path):
    listener = board_progress(tmp_path, live=True, found=3)

    assert listener.lines == []
    assert [status.split(" tests")[0] for status in listener.statuses] == [
        "  patched 0/3",
        "  patched 1/3",
        "  patched 2/3",
        "  patched 3/3",
        "",
    ]


def test_failures_are_split_into_the_release_s_and_the_series_and_capped():
    shared = [f"deprecation.tests.T.test_{i}" for i in range(3)]
    patched = {NEW: "error", OLD: "fail", **{test_id: "fail" for test_id in shared}}
    reverted = {NEW: "fail", OLD: "pass", **{test_id: "fail" for test_id in shared}}
    comparison = compare_outcomes({NEW}, patched, reverted)

    table = format_comparison(comparison, "x", patched, reverted, limit=2)

    assert table.split("\n")[:8] == [
        "verdict: FAILED (red/green, x)",
        "  failing, caused by the series                        2",
        f"    {NEW}: reverted fail, patched error",
        f"    {OLD}: reverted pass, patched fail",
        "  failing the same way on the release (not the series) 3",
        f"    {shared[0]}: reverted fail, patched fail",
        f"    {shared[1]}: reverted fail, patched fail",
        "    ... and 1 more (in runtests.py's output)",
    ]


def test_a_test_failing_differently_on_each_tree_is_the_series_doing():
    patched, reverted = {OLD: "error"}, {OLD: "fail"}
    comparison = compare_outcomes(set(), patched, reverted)

    table = format_comparison(comparison, "x", patched, reverted)

    assert "  failing, caused by the series                        1\n" in table
    assert "  failing the same way on the release (not the series) 0\n" in table
