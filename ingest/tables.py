"""Tables as clauses: a row is a clause, and task tables give units their roles.

A 重点任务分解表 has columns such as 序号 / 重点任务 / 牵头单位 / 责任单位. Its rows become
clauses whose text carries the task and, in the same words documents use in running text,
the units: ``…（牵头单位：市发改委；责任单位：市教育局、…）``. Other tables become rows of
``header：value`` pairs, with cells merged from the row above filled in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBER_HEADER = re.compile(r"^(序号|编号|序|No\.?)$", re.I)
_TASK_HEADER = re.compile(r"(任务|内容|事项|措施|工作|项目|目标)")
_UNIT_HEADER = re.compile(r"(牵头|责任|配合|参与|协办|主办|实施)(单位|部门|领导)?")


@dataclass(frozen=True)
class Row:
    """One table row made ready to be a clause."""

    label: str
    text: str


def table_rows(rows: list[list[str]]) -> list[Row]:
    """The data rows of a table as labelled clause texts."""
    if len(rows) < 2:
        return [Row(str(i + 1), "；".join(c for c in row if c)) for i, row in enumerate(rows)]
    header, body = rows[0], rows[1:]
    number_col = next((i for i, h in enumerate(header) if _NUMBER_HEADER.match(h)), None)
    unit_cols = [i for i, h in enumerate(header) if _UNIT_HEADER.search(h) and "任务" not in h]
    task_col = next(
        (i for i, h in enumerate(header) if _TASK_HEADER.search(h) and i not in unit_cols), None
    )
    result = []
    previous: list[str] = []
    for position, row in enumerate(body, 1):
        row = row + [""] * (len(header) - len(row))
        label = row[number_col] if number_col is not None and row[number_col] else str(position)
        if unit_cols and task_col is not None:
            text = _task_text(row[task_col], [(header[i], row[i]) for i in unit_cols])
        else:
            filled = _fill_merged(row, previous)
            previous = filled
            text = "；".join(
                f"{h}：{c}" if h else c
                for i, (h, c) in enumerate(zip(header, filled, strict=False))
                if c and i != number_col
            )
        if text:
            result.append(Row(label, text))
    return result


def _task_text(task: str, units: list[tuple[str, str]]) -> str:
    named = "；".join(f"{_role_header(h)}：{v}" for h, v in units if v)
    return f"{task}（{named}）" if named else task


def _role_header(header: str) -> str:
    """牵头单位 stays; a header like 责任部门 or 配合单位 keeps its own words."""
    return re.sub(r"\s", "", header)


def _fill_merged(row: list[str], previous: list[str]) -> list[str]:
    """Empty leading cells repeat the row above: they were merged cells in the source."""
    filled = list(row)
    for i, cell in enumerate(row):
        if cell:
            break
        if i < len(previous):
            filled[i] = previous[i]
    return filled
