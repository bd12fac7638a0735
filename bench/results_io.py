"""Where a bench script's results go: ``OUT.md`` (the table it prints) and ``OUT.json`` (its
numbers), the suffixes appended to ``--out``, not put in place of one: a name like
``long_speed_window-guidance-0.28`` has a dot and no suffix, and ``Path.with_suffix`` would
write ``long_speed_window-guidance-0.md``, over another run's results."""

from __future__ import annotations

import json
from pathlib import Path


def report(out: str | Path, text: str, data: object = None) -> tuple[Path, Path | None]:
    """Print ``text`` and write it to ``OUT.md``, and ``data`` (where given) as JSON to
    ``OUT.json``, making OUT's folder; returns the two paths."""
    print(text)
    md, js = Path(f"{out}.md"), Path(f"{out}.json")
    md.parent.mkdir(parents=True, exist_ok=True)
    md.write_text(text + "\n")
    if data is None:
        return md, None
    js.write_text(json.dumps(data, indent=1))
    return md, js
