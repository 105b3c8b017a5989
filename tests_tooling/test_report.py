from patchkit.core.report import markdown_table, text_table, verdict_line


def test_markdown_table_pads_columns():
    assert markdown_table(("a", "bb"), [("xyz", 1)]) == (
        "| a   | bb |\n|-----|----|\n| xyz | 1  |"
    )


def test_text_table_aligns_columns_with_an_optional_rule_and_indent():
    rows = [("name", "n"), ("long name", 10), ("x", 7)]

    assert text_table(rows) == "name       n\nlong name  10\nx          7"
    assert text_table(rows, rule=True, indent="  ", right_align_numbers=True) == (
        "  name        n\n  ---------  --\n  long name  10\n  x           7"
    )


def test_verdict_line():
    assert verdict_line(True) == "verdict: OK"
    assert verdict_line(False, "2/3 cells") == "verdict: FAILED (2/3 cells)"
