"""Tables as GitHub Markdown, for scripts that print their results."""

from __future__ import annotations

import pandas as pd


def markdown(table: pd.DataFrame, digits: int = 3) -> str:
    """A DataFrame as a GitHub Markdown table (floats rounded)."""
    if table.empty:
        return "(none)"

    def cell(v) -> str:
        if isinstance(v, float):
            return "" if pd.isna(v) else f"{v:.0f}" if v.is_integer() else f"{v:.{digits}f}"
        return str(v)

    cells = table.map(cell)
    lines = ["| " + " | ".join(map(str, table.columns)) + " |"]
    lines.append("|" + "---|" * len(table.columns))
    lines += ["| " + " | ".join(row) + " |" for row in cells.to_numpy().tolist()]
    return "\n".join(lines)
