"""Every command's ``--help`` shows its options' help as written: a settings section such as
``[performance]`` in a help text is rich markup unless escaped, and used to vanish from the page
("(default:  batch_series)")."""

from __future__ import annotations

import re
from typing import Any

import typer
from typer.testing import CliRunner

from oiradar.cli.main import app

SECTION = re.compile(r"\[(\w+)\]")  # a settings section in a help text, escaped (\\[watch]) or not


def _commands() -> list[tuple[str, Any]]:
    """``(name, click command)`` of every command and sub-command."""
    root: Any = typer.main.get_command(app)
    out = []
    for name, cmd in root.commands.items():
        if hasattr(cmd, "commands"):  # a group
            out += [(f"{name} {sub}", c) for sub, c in cmd.commands.items()]
        else:
            out.append((name, cmd))
    return out


def test_every_settings_section_named_in_a_help_text_is_on_the_page() -> None:
    checked, lost = 0, []
    for name, cmd in _commands():
        text = " ".join([cmd.help or "", *(getattr(p, "help", None) or "" for p in cmd.params)])
        wanted = set(SECTION.findall(text))
        if not wanted:
            continue
        res = CliRunner().invoke(app, [*name.split(), "--help"], env={"COLUMNS": "250"})
        assert res.exit_code == 0, res.output
        page = " ".join(res.output.split())
        lost += [(name, w) for w in sorted(wanted) if f"[{w}]" not in page]
        checked += 1
    assert checked >= 5, "the check saw the commands whose help names a settings section"
    assert not lost, f"settings sections missing from --help: {lost}"
