"""bench/results_io.py: where every bench script writes its results."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from results_io import report


def test_results_keep_a_dotted_name_whole(tmp_path: Path, capsys) -> None:
    """OUT.md / OUT.json are appended to the name: a run named ..._0.28 must not land on
    ..._0.md, where another run's results are (Path.with_suffix would put them there)."""
    other = tmp_path / "runs" / "speed_0.md"
    report(tmp_path / "runs" / "speed_0", "the other run", {"n": 0})
    md, js = report(tmp_path / "runs" / "speed_0.28", "| a | b |", {"walls": [1.5, 2.0]})
    assert md == tmp_path / "runs" / "speed_0.28.md" and js == md.with_name("speed_0.28.json")
    assert md.read_text() == "| a | b |\n" and json.loads(js.read_text()) == {"walls": [1.5, 2.0]}
    assert other.read_text() == "the other run\n"  # untouched
    assert capsys.readouterr().out.endswith("| a | b |\n")  # printed too
    md, js = report(str(tmp_path / "table_only"), "text")  # no numbers: no JSON
    assert js is None and md.read_text() == "text\n" and not md.with_suffix(".json").exists()
