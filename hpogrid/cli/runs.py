"""The run commands built from the backend registry: ``local_run``, ``slurm_run``, ...

Each is the options every run shares (``_run_options``) plus those its backend's options
dataclass declares (:mod:`hpogrid.backends.declared`), with the help the dataclass carries;
:data:`hpogrid.backends.RUN_COMMANDS` lists them. A new backend declares its options and is
listed there; it needs no CLI module. ``hpogrid run`` (the grid) is built from its declared
options the same way (:func:`run_parameters`), but it submits a task or drives a search, so its
body is its own (:mod:`hpogrid.cli.run`).
"""
from typing import Any, Callable

import click

from hpogrid.backends import run_options_class
from hpogrid.backends.declared import OptionSpec, declared_options
from hpogrid.cli._run_options import (SIGNALS_HELP, check_resume_flags, detach_options, run_project, search_options,
                                      stop_rule_options, study_options, with_detach)
from hpogrid.cli._types import COUNT_MAX, FiniteFloatRange, count


def _click_option(name: str, spec: OptionSpec) -> Callable:
    kwargs: dict = {"help": spec.help, "hidden": spec.hidden, "default": spec.default,
                    "show_default": spec.show_default}
    if spec.metavar:
        kwargs["metavar"] = spec.metavar
    if spec.kind == "flag":
        kwargs["is_flag"] = True
    elif spec.kind == "int":
        kwargs["type"] = count(0 if spec.low is None else int(spec.low),
                               COUNT_MAX if spec.high is None else int(spec.high))
    elif spec.kind == "float":
        kwargs["type"] = FiniteFloatRange(min=spec.low, max=spec.high)
    elif spec.kind == "choice":
        kwargs["type"] = click.Choice(list(spec.choices or ()))
    return click.option(*spec.flags, name, **kwargs)


def run_parameters(options_cls: Any, body: Callable) -> Callable:
    """``body`` with the parameters of ``options_cls``'s command: PROJECT, the shared search
    options (less those the class redeclares), the class's declared options, the study's."""
    declared = declared_options(options_cls)
    # decorators apply bottom-up: --help lists PROJECT, the search options, the backend's, the
    # stop rules, the study's, then --detach's
    command = getattr(options_cls, "command", "")
    fn = study_options(detach_options(command)(with_detach(command, body)))
    fn = stop_rule_options(fn)
    for name, spec in reversed(declared):
        fn = _click_option(name, spec)(fn)
    fn = search_options(getattr(options_cls, "n_jobs_help", ""), skip={name for name, _ in declared})(fn)
    return click.argument("project")(fn)


def run_command(command: str) -> click.Command:
    """The Click command ``command``, built from its backend's options dataclass."""
    options_cls: Any = run_options_class(command)  # a RunOptions dataclass and a RunCommand

    def run(project: str, n_jobs, study, study_url, top, resume, rerun_failed, rerun, no_backup, warm_start,
            **given: Any) -> None:
        selection = check_resume_flags(resume, rerun_failed, no_backup, rerun)
        field = options_cls.n_jobs_field
        given[field] = n_jobs if n_jobs is not None else given.get(field)
        opts = options_cls(**given, study=study, study_url=study_url, resume=resume, rerun_failed=rerun_failed,
                           rerun=selection, warm_start=warm_start, backup=not no_backup)
        run_project(options_cls.backend, project, opts, top, command, study)

    return click.command(command, help=options_cls.help.format(signals=SIGNALS_HELP))(run_parameters(options_cls, run))


def __getattr__(name: str) -> click.Command:
    """``hpogrid.cli.runs:local_run`` (the root group's lazy table) builds that command."""
    if name.startswith("__"):
        raise AttributeError(name)
    return run_command(name)
