"""Shared by the hostile-input tests of issue #34: the shape every refusal must have."""
import re

from tests.conftest import tree_snapshot

SPACE = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}


def refused(result, home_before, home, pattern):
    """One line ``Error: ...`` matching ``pattern``, exit != 0, nothing in the store changed."""
    lines = result.output.strip().splitlines()
    assert result.exit_code not in (0, None), result.output
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "internal error" not in result.output and "Traceback" not in result.output
    assert re.search(pattern, lines[0]), lines[0]
    if home_before is not None:
        assert tree_snapshot(home) == home_before


def commands(group=None, path=()):
    """Every (argv path, click command) of the CLI, walking the groups: generated tests feed
    the same hostile value to every command that takes an option of a kind."""
    import click

    from hpogrid.cli import cli

    group = cli if group is None else group
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


def required_arguments(command):
    """Placeholder values of ``command``'s required arguments (a project named 'p')."""
    import click

    return ["p" for param in command.params if isinstance(param, click.Argument) and param.required]


def command_at(path):
    """The click command at ``path`` (as :func:`commands` yields it)."""
    return dict(commands())[tuple(path)]
