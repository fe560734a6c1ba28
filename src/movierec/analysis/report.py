"""Markdown tables and a PNG plot for the importance and imbalance report (atomic writes)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from movierec.atomic import atomic_write_bytes


def markdown_table(frame: pd.DataFrame, *, digits: int = 4) -> str:
    """A GitHub markdown table of `frame` (no index), floats rounded to `digits`.

    Examples
    --------
    >>> print(markdown_table(pd.DataFrame({"a": [1.23456], "b": ["x"]}), digits=2))
    | a | b |
    |---|---|
    | 1.23 | x |
    """
    def cell(value) -> str:
        if isinstance(value, (float, np.floating)):
            return f"{value:.{digits}f}" if np.isfinite(value) else str(value)
        return str(value)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def write_markdown(path: Path | str, title: str, sections: dict[str, str | pd.DataFrame]) -> Path:
    """Write ``# title`` then one ``## heading`` per section (text or a table)."""
    parts = [f"# {title}", ""]
    for heading, body in sections.items():
        parts += [f"## {heading}", "", markdown_table(body) if isinstance(body, pd.DataFrame) else body, ""]
    path = Path(path)
    atomic_write_bytes(path, "\n".join(parts).encode())
    return path


def plot_importances(
    path: Path | str,
    importances: dict[str, pd.DataFrame],
    rates: dict[str, pd.DataFrame],
    *,
    top: int = 15,
) -> Path:
    """One bar chart per importance table (top features, importance and SHAP share)
    and one line chart of positive rate per activity bucket; written as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = len(importances) + (1 if rates else 0)
    columns = min(3, panels)
    rows = -(-panels // columns)
    figure, grid = plt.subplots(rows, columns, figsize=(6.5 * columns, 5.5 * rows), squeeze=False)
    axes = grid.ravel()
    for axis in axes[panels:]:
        axis.set_visible(False)
    for axis, (name, table) in zip(axes, importances.items()):
        head = table.head(top).iloc[::-1]
        positions = np.arange(len(head))
        axis.barh(positions - 0.2, head["importance"], height=0.4, label="PredictionValuesChange")
        axis.barh(positions + 0.2, head["shap_share"], height=0.4, label="mean |SHAP| share")
        axis.set_yticks(positions, head["feature"])
        axis.set_xlabel("% of total")
        axis.set_title(name)
        axis.legend(loc="lower right")
    if rates:
        axis = axes[panels - 1]
        for name, table in rates.items():
            # bucket edges differ between tables (inner vs full history): plot by position
            axis.plot(np.arange(1, len(table) + 1), table["positive_rate"], marker="o", label=name)
        axis.set_xlabel("user activity bucket (1 = least active; edges in the tables)")
        axis.set_ylabel("positive rate")
        axis.set_title("positive rate per activity bucket")
        axis.legend()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    path = Path(path)
    atomic_write_bytes(path, buffer.getvalue())
    return path
