"""Issue #34 item 14: bytes that are not UTF-8 in any option value or argument (a shell passes
them through; Python keeps them as surrogate escapes) are one usage line naming the option or
argument, exit code 2, nothing written -- for every option of every command, generated from
the CLI itself so a new option is covered too."""
import re

import click
import pytest

from hpogrid.cli import cli
from tests.conftest import tree_snapshot
from tests.hostile._helpers import refused

#: what ``$'...'`` hands Python for bytes that are not UTF-8: lone surrogate escapes
BAD = ["l\udce9", "\udcff\udcfe", "ok\udc80", '{"a": "\udce9"}', "caf\udcc3(", "x" * 200 + "\udce9", "a,\udce9,b",
       "/tmp/\udce9.json", "\udce9" * 3]


def _commands(group=cli, path=()):
    for name in group.list_commands(None):
        command = group.get_command(None, name)
        if isinstance(command, click.Group):
            yield from _commands(command, path + (name,))
        else:
            yield path + (name,), command


def _cases():
    """(argv, the name the error must give): each value-taking option, each argument."""
    cases = []
    for path, command in _commands():
        for param in command.params:
            if isinstance(param, click.Option) and not (param.is_flag or param.count):
                for opt in param.opts + param.secondary_opts:
                    cases.append((list(path) + [opt], re.escape(opt)))
        arguments = [p for p in command.params if isinstance(p, click.Argument)]
        for k, arg in enumerate(arguments):
            cases.append((list(path) + ["ok"] * k, re.escape(f"argument {arg.human_readable_name}")))
    return cases


CASES = _cases()


def test_the_generated_cases_cover_every_command():
    assert len(CASES) > 150  # every value-taking option and argument of ~60 commands
    named = {tuple(argv) for argv, _ in CASES}
    assert {("hpo_config", "create", "--metric"), ("hpo_config", "create", "--extra_metrics"),
            ("grid_config", "create", "--site"), ("model_config", "create", "--param"), ("report", "--metric"),
            ("local_run", "--study-url"), ("enqueue", "ok")} <= named


@pytest.mark.parametrize("argv, name", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_a_non_utf8_value_of_any_option_or_argument_is_one_usage_line(run_cli, hpogrid_home, argv, name):
    before = tree_snapshot(hpogrid_home)
    bad = BAD[len(argv) % len(BAD)]
    r = run_cli(*argv, bad)
    assert r.exit_code == 2, r.output
    refused(r, before, hpogrid_home, rf"^Error: {name}: '.*' is not UTF-8 text \(byte 0x[0-9a-f]{{2}} at offset "
                                     rf"\d+\); give it in UTF-8$")


ISSUE = [
    (["hpo_config", "create", "h", "--metric", "l\udce9"], "--metric", "byte 0xe9 at offset 1"),
    (["hpo_config", "create", "h", "--extra_metrics", "a,l\udce9"], "--extra_metrics", "byte 0xe9 at offset 3"),
    (["grid_config", "create", "g", "--site", "\udcff"], "--site", "byte 0xff at offset 0"),
    (["model_config", "create", "m", "--script", "m.py", "--model", "f", "--param", '{"a":"\udce9"}'], "--param",
     "byte 0xe9 at offset 6"),
    (["hpo_config", "create", "h", "--metric=caf\udce9"], "--metric", "byte 0xe9 at offset 12"),
    (["--debug", "hpo_config", "create", "h\udce9"], "argument NAME", "byte 0xe9 at offset 1"),
    (["hpo_config", "create", "h", "--m\udce9tric", "x"], "option name", "byte 0xe9 at offset 3"),
    (["hpo_c\udce9nfig", "list"], "command name", "byte 0xe9 at offset 5"),
    (["report", "p", "--metric", "caf\u00e9,l\udce9"], "--metric", "byte 0xe9 at offset 7"),
]


@pytest.mark.parametrize("argv, name, where", ISSUE, ids=[a[-2] for a, _, _ in ISSUE])
def test_the_issue_examples_name_the_option_and_the_byte(run_cli, hpogrid_home, argv, name, where):
    r = run_cli(*argv)
    refused(r, {}, hpogrid_home, rf"^Error: {re.escape(name)}: '.*' is not UTF-8 text \({where}\); give it")


def test_utf8_text_that_is_not_ascii_still_works(run_cli, hpogrid_home):
    r = run_cli("hpo_config", "create", "h", "--metric", "café", "--extra_metrics", "naïve,λ")
    assert r.exit_code == 0, r.output
