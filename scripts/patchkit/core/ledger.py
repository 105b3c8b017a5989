"""LEDGER.md, read: the behaviour changes of working configurations and the
limitations, as the differential checks them and as UPSTREAM.md lists them."""

import dataclasses
import itertools
import re
from pathlib import Path

from patchkit.core.manifest import project_dir


@dataclasses.dataclass(frozen=True)
class LedgerEntry:
    id: str
    series: frozenset  # {"all"} or series names
    patterns: tuple  # the differential's case ids (fnmatch patterns) it covers
    cells: dict = dataclasses.field(default_factory=dict, compare=False)  # header -> text

    def applies_to(self, release):
        return "all" in self.series or release.series in self.series


def ledger_path():
    return project_dir() / "LEDGER.md"


def read_ledger(path=None):
    """(behaviour changes, limitations): the rows of LEDGER.md's tables whose first
    column is "id", by their headers; a limitation table has a "why" column."""
    changes, limitations = [], []
    lines = Path(path or ledger_path()).read_text().splitlines()
    for start, line in enumerate(lines):
        if not line.startswith("| id |"):
            continue
        header = [cell.strip() for cell in line.strip().strip("|").split("|")]
        series_column, cases_column = header.index("series"), header.index("differential cases")
        for row in itertools.takewhile(lambda text: text.startswith("|"), lines[start + 2 :]):
            cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
            (limitations if "why" in header else changes).append(
                LedgerEntry(
                    id=cells[0].strip("`"),
                    series=frozenset(part.strip() for part in cells[series_column].split(",")),
                    patterns=tuple(re.findall(r"`([^`]+)`", cells[cases_column])),
                    cells=dict(zip(header, cells)),
                )
            )
    return changes, limitations
