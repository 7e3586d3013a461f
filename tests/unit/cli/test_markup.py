"""Data is never read as console markup (issue 11): brackets in cells and messages print as they are."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.cli.test_data_cmds import run_cli


@pytest.mark.parametrize(
    "text",
    ["[/]", "[bold]x[/bold]", "[link=https://evil.example]1.0[/link]", "[red]", "a[b]c", "\\[x]"],
)
def test_sql_result_cells_print_verbatim(tmp_path: Path, text: str) -> None:
    quoted = text.replace("'", "''")
    for fmt in ("table", "csv"):
        out = run_cli(tmp_path / "home", "sql", f"select '{quoted}' as cell", "--format", fmt)
        assert out.returncode == 0, out.stderr
        assert "Traceback" not in out.stderr
        assert text in out.stdout


def test_error_message_keeps_brackets(tmp_path: Path) -> None:
    """A bar with high < low is refused; the message shows the numbers in its brackets."""
    csv = tmp_path / "bars.csv"
    csv.write_text(
        "ts,open,high,low,close,volume\n"
        "1700000000000,100,102,98,101,5\n"
        "1700000300000,100,99,101,100,5\n"
        "1700000600000,100,102,98,101,5\n"
    )
    out = run_cli(
        tmp_path / "home", "import", str(csv), "-e", "mkt", "-s", "BTC/USDT:USDT", "-t", "5m"
    )
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    message = " ".join(out.stderr.split())
    assert "99" in message and "101" in message, message


def test_markup_in_a_refused_value_is_shown_as_is(tmp_path: Path) -> None:
    """A ``[link=...]`` cell must not change the value shown in the error."""
    csv = tmp_path / "bars.csv"
    csv.write_text(
        "ts,open,high,low,close,volume\n"
        "1700000000000,100,102,98,101,5\n"
        "1700000300000,[link=https://x.example]7[/link],102,98,101,5\n"
    )
    out = run_cli(
        tmp_path / "home", "import", str(csv), "-e", "mkt", "-s", "BTC/USDT:USDT", "-t", "5m"
    )
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    assert "[link=https://x.example]7[/link]" in " ".join(out.stderr.split()).replace(" ", "")
