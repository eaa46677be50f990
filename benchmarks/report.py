"""Plain-text output: aligned tables, ratios printed as ``4.9x``, and small number formats.

Nothing here measures anything; the sections hand their figures to `Table` and print it.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field


def ratio(slow: float | None, fast: float | None) -> str:
    """``slow / fast`` as ``4.9x`` (``49x`` from 20 on); ``-`` when either is missing."""
    if slow is None or fast is None or fast <= 0:
        return "-"
    value = slow / fast
    return f"{value:.0f}x" if value >= 20 else f"{value:.1f}x"


def ms(value: float | None, digits: int = 2) -> str:
    """Milliseconds with `digits` decimals; ``-`` when missing."""
    return "-" if value is None else f"{value:.{digits}f}"


def count(value: float | None) -> str:
    """A per-item count: whole numbers bare, else one decimal; ``-`` when missing."""
    if value is None:
        return "-"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def median(values: Sequence[float]) -> float:
    """The median of the runs."""
    return statistics.median(values)


def section(title: str) -> None:
    """Print a section heading."""
    print()
    print(title)
    print("=" * len(title))


def note(text: str) -> None:
    """Print a one-line note under a section."""
    print(f"  {text}")


@dataclass
class Table:
    """Rows of cells under headers; the first column is left-aligned, the rest right-aligned."""

    headers: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)
    title: str | None = None

    def add(self, *cells: str) -> None:
        """Append a row (as many cells as headers)."""
        self.rows.append(cells)

    def render(self) -> str:
        """The table as text, indented two spaces."""
        table = [list(self.headers), *[list(row) for row in self.rows]]
        widths = [max(len(row[i]) for row in table) for i in range(len(self.headers))]
        lines = []
        if self.title:
            lines.append(f"  {self.title}")
        for index, row in enumerate(table):
            cells = [
                cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                for i, cell in enumerate(row)
            ]
            lines.append("  " + "  ".join(cells).rstrip())
            if index == 0:
                lines.append("  " + "  ".join("-" * width for width in widths))
        return "\n".join(lines)

    def print(self) -> None:
        """Print the table followed by a blank line."""
        print(self.render())
        print()
