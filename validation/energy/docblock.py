"""Replace a generated block of docs/validation.md between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``.

Each validation script owns its own markers; everything outside them (prose, other sections) is left
exactly as it is, so several scripts (and people) can regenerate their tables in the same document.
"""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "validation.md"


def replace_block(name: str, body: str, doc: Path = DOC) -> bool:
    """Put ``body`` between the ``name`` markers of ``doc``; False (and no change) if they are absent."""
    text = doc.read_text()
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        return False
    new = pattern.sub(lambda _m: f"{begin}\n{body.rstrip()}\n{end}", text, count=1)
    if new != text:
        doc.write_text(new)
    return True
