"""``contact-center bench schedule`` as a person runs it: JSON figures for both sides, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contact_center.cli import main
from tests.field_service.test_solomon import FIXTURES, TINY


def test_generated_bench_reports_both_sides(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "schedule", "--jobs", "12", "--technicians", "3", "--seconds", "0.5", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["instance"] == {"jobs": 12, "technicians": 3, "seed": 1, "seconds": 0.5}
    for side in ("optimiser", "greedy"):
        figures = report[side]
        assert figures["violations"] == 0
        assert 0 <= figures["unassigned"] <= 12
        assert figures["travel_seconds"] > 0
    assert set(report["gain"]) == {"unassigned", "lateness_seconds", "travel_per_visit_ratio"}


def test_solomon_bench_solves_each_file_on_both_sides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tiny = tmp_path / "tiny.txt"
    tiny.write_text(TINY)
    assert main(["bench", "schedule", "--solomon", str(tiny), "--seconds", "0.3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (row,) = report["instances"]
    assert row["instance"] == "TINY"
    assert row["ours"]["vehicles"] == row["pyvrp"]["vehicles"] == 2
    assert row["ours"]["distance"] == pytest.approx(row["pyvrp"]["distance"], abs=0.01)
    assert row["distance_ratio"] == pytest.approx(1.0, abs=1e-3)
    assert "distance only" in report["objective"]


def test_the_text_table_names_both_sides(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "schedule", "--jobs", "5", "--technicians", "2", "--seconds", "0.2"]) == 0
    out = capsys.readouterr().out
    assert "optimiser" in out
    assert "greedy" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--jobs", "0"], "at least 1"),
        (["--seconds", "nan"], "positive"),
        (["--seconds", "0"], "positive"),
        (["--solomon", "/nonexistent/R999.txt"], "no such file"),
        (["--solomon", str(FIXTURES / "README.md")], "VEHICLE"),
    ],
)
def test_bad_input_exits_2_with_a_message(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "schedule", *argv]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""
