"""Tables and verdict lines: how every command prints its result."""


def text_table(rows, rule=False, indent="", right_align_numbers=False):
    """Rows (the header first) as aligned plain-text columns; rule: a dashed line
    under the header; right_align_numbers: every column but the first right-aligned."""
    rows = [tuple(map(str, row)) for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def line(row):
        cells = (
            value.rjust(width) if right_align_numbers and i else value.ljust(width)
            for i, (value, width) in enumerate(zip(row, widths))
        )
        return (indent + "  ".join(cells)).rstrip()

    lines = [line(row) for row in rows]
    if rule:
        lines.insert(1, indent + "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def markdown_table(header, rows):
    """A Markdown table, columns padded so it also reads as plain text."""
    rows = [tuple(map(str, row)) for row in [header, *rows]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["| " + " | ".join(v.ljust(w) for v, w in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def verdict_line(ok, detail=""):
    return f"verdict: {'OK' if ok else 'FAILED'}" + (f" ({detail})" if detail else "")
