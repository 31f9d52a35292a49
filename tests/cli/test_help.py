"""Every command's help is complete: found from the parser itself, so a new command is covered."""

from __future__ import annotations

import argparse

import pytest

from mixopt.cli import build_parser, main


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(actions) == 1
    commands: dict[str, argparse.ArgumentParser] = dict(actions[0].choices)
    return commands


COMMANDS = sorted(_commands())


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_the_commands_are_found() -> None:
    assert {"search", "validate", "export", "ls", "tiny-model"} <= set(COMMANDS)


def test_mixopt_help_names_every_command_with_its_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = _help(["--help"], capsys)
    parser = build_parser()
    assert parser.description and parser.description.split()[0] in text
    assert parser.epilog and "mixopt ls" in text
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    summaries = {a.dest: a.help for a in sub._choices_actions}
    assert set(summaries) == set(COMMANDS)
    for name, summary in summaries.items():
        assert summary, f"{name} has no summary in 'mixopt --help'"
        assert name in text and " ".join(summary.split()[:3]) in " ".join(text.split())


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_help_is_complete(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    parser = _commands()[name]
    text = " ".join(_help([name, "--help"], capsys).split())
    assert parser.description, f"mixopt {name} has no description"
    assert " ".join(parser.description.split()[:6]) in text
    for action in parser._actions:
        what = "/".join(action.option_strings) or action.dest
        assert action.help and action.help != argparse.SUPPRESS, (
            f"mixopt {name}: {what} has no help"
        )
    # an example of a whole command line, which the help shows
    assert parser.epilog and f"example: mixopt {name}" in parser.epilog
    assert f"example: mixopt {name}" in text
