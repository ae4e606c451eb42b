"""docs/outputs.md is generated from the result records and must not go stale."""

from __future__ import annotations

from pathlib import Path

from accelsim.results.docs import outputs_markdown
from accelsim.results.records import DesignPointSummary, LayerRow, SweepVerdict, TradeoffRow

PAGE = Path(__file__).resolve().parent.parent / "docs" / "outputs.md"


def test_docs_outputs_md_is_current():
    assert PAGE.read_text() == outputs_markdown(), (
        "docs/outputs.md is stale: regenerate it with `python -m accelsim.results.docs > docs/outputs.md`")


def test_every_field_is_documented_with_its_unit():
    page = PAGE.read_text()
    for record in (LayerRow, DesignPointSummary, TradeoffRow, SweepVerdict):
        for column in record.columns():
            assert f"| `{column.name}` | {column.unit or '–'} |" in page, column.name
