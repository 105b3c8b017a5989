"""Tables, verdict lines, the one progress function and the Outcome a command
returns: how every command reports, though only cli prints."""

from contextlib import contextmanager
from dataclasses import dataclass, field


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


# Progress --------------------------------------------------------------------
# Core and commands report what they are doing through the functions below; only
# the listener cli installs writes it anywhere, so a caller can silence it. A
# listener has line(text), status(text): a line that replaces the previous status
# line ("" clears it), used only when its `live` is true (a terminal), and
# echo(data): a program's output, bytes as they come.

_listener = None


def set_progress(listener):
    """Send progress to listener, or nowhere with None; return the previous one."""
    global _listener
    previous, _listener = _listener, listener
    return previous


def progress(message=""):
    """One line of live progress (a step starting, a run's log file)."""
    if _listener is not None:
        _listener.line(message)


def live_status():
    """Whether progress_status() rewrites one line in place (on a terminal)."""
    return _listener is not None and _listener.live


def progress_status(text):
    if _listener is not None:
        _listener.status(text)


def progress_echo(data):
    """A program's output (bytes), shown as it comes."""
    if _listener is not None:
        _listener.echo(data)


@contextmanager
def silenced_progress():
    """No progress lines while the block runs (work the user did not ask about)."""
    previous = set_progress(None)
    try:
        yield
    finally:
        set_progress(previous)


# Outcome ---------------------------------------------------------------------


@dataclass
class Outcome:
    """What a command found, as data: cli prints the report lines, writes each
    evidence summary (name -> plain data) and prints the verdict, then exits with
    status (default: 0 when ok, else 1)."""

    ok: bool
    lines: list = field(default_factory=list)
    evidence: dict = field(default_factory=dict)
    detail: str = ""
    status: int | None = None
    verdict: bool = True  # False: a report with no verdict line (e.g. bench)

    @property
    def exit_status(self):
        if self.status is not None:
            return self.status
        return 0 if self.ok else 1


def check_outcome(check, release, python, ok, report, **figures):
    """A check's Outcome: its report, and its summary as the evidence
    <check>-<series> (which release, on which Python, ok, and the figures)."""
    summary = {"series": release.series, "version": release.version, "python": python}
    summary.update(ok=ok, **figures)
    return Outcome(ok, [report], {f"{check}-{release.series}": summary})
