"""``hpogrid study list|show|copy|rename|delete|merge|export|import|add``: manage whole studies.

A study is named by PROJECT (or ``--study NAME``) and lives in the project's ``study.db``, in
``$HPOGRID_STUDY_URL`` or in the store ``--study-url`` names. The work is done by
:mod:`hpogrid.study` (one transaction per write); this module parses and prints.
"""
from typing import Optional

import click

from hpogrid.cli._base import confirm_if_interactive, echo_json, echo_table

_STUDY = click.option("--study", metavar="NAME", help="Study name (default: the project name).")
_URL = click.option("--study-url", "--study_url", "study_url", metavar="URL", help="SQLAlchemy URL of the "
                    "study store (default: $HPOGRID_STUDY_URL, else SQLite in the project folder).")


def _settings():
    return click.get_current_context().find_root().obj


def _reader(project: str, study: Optional[str], study_url: Optional[str]):
    """(read-only store, study info) of an existing study."""
    from hpogrid.study import StudyTarget

    return StudyTarget.existing(project, study, study_url, settings=_settings()).open_read_only()


def _writer(project: Optional[str], study_url: Optional[str], access: str = "write"):
    """The store (``create``: made on first write; else it must exist)."""
    from hpogrid.study import StudyStore
    from hpogrid.study.transfer import store_url

    url = store_url(project, study_url, _settings(), existing=access != "create")
    return StudyStore(url, access=access)


def _time(value) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


@click.group("study")
def study() -> None:
    """List, inspect, copy, rename, delete, merge, export and import studies (files, optuna),
    and add results evaluated elsewhere."""


@study.command("list")
@click.argument("project", required=False)
@_URL
def list_(project: Optional[str], study_url: Optional[str]) -> None:
    """List the studies of PROJECT's store (or of --study-url) with trial counts by state."""
    from hpogrid.study.transfer import summarize

    with _writer(project, study_url, access="read") as store:
        rows = summarize(store)
    if not rows:
        click.echo(f"No study in {store.url}.")
        return
    echo_table([[s.name, s.total, s.counts["COMPLETED"], s.counts["RUNNING"] + s.counts["PENDING"],
                 s.counts["FAILED"], s.counts["INTERRUPTED"], "" if s.best is None else f"{s.best:.6g}",
                 s.objectives, _time(s.updated_at)] for s in rows],
               ["study", "trials", "completed", "running", "failed", "interrupted", "best", "objectives",
                "updated (UTC)"])


@study.command("show")
@click.argument("project")
@_STUDY
@_URL
@click.option("--trial", "trial_uid", metavar="UID", help="Print this trial instead (every field, and "
              "the files it kept with hpogrid.trial.save_artifact).")
def show(project: str, study: Optional[str], study_url: Optional[str], trial_uid: Optional[str]) -> None:
    """Print a study's definition, trial counts and best trial as JSON (--trial UID: one trial)."""
    store, info = _reader(project, study, study_url)
    if trial_uid is not None:
        with store:
            echo_json(_trial_json(store.trial(info.name, trial_uid)))
        return
    with store:
        best = store.best_trial(info.name)
        echo_json({"name": info.name, "store": store.url, "metric": info.metric, "mode": info.mode,
                   "attrs": info.attrs, "created_at": _time(info.created_at),
                   "counts": {str(k): v for k, v in store.counts(info.name).items()},
                   "best": None if best is None else {"uid": best.uid, "number": best.number,
                                                      "value": best.value, "params": best.params}})


def _trial_json(t) -> dict:
    """One trial as ``study show --trial`` prints it: its fields, then its artifacts (each with
    whether its file is still there, as seen from this machine)."""
    import os

    from hpogrid.study.studyfile import trial_object
    from hpogrid.study.values import encode_nonfinite
    from hpogrid.trial import ARTIFACTS_KEY, artifacts

    data = encode_nonfinite(trial_object(t))
    data["annotations"] = {k: v for k, v in (t.annotations or {}).items() if k != ARTIFACTS_KEY}
    data["artifacts"] = [{"name": name, **a, "exists": isinstance(a.get("file"), str) and os.path.isfile(a["file"])}
                         for name, a in artifacts(t.annotations).items()]
    return data


@study.command("copy")
@click.argument("project")
@click.argument("new_name")
@_STUDY
@_URL
@click.option("--to-url", "to_url", metavar="URL", help="Store to copy into (default: the same store).")
def copy(project: str, new_name, study, study_url, to_url) -> None:
    """Copy a study with all its trials as NEW_NAME, in its store or into --to-url."""
    from hpogrid.study import StudyStore
    from hpogrid.study.transfer import copy_study

    store, info = _reader(project, study, study_url)
    with store, StudyStore(to_url or store_url_of(project, study_url)) as dst:
        done = copy_study(store, info.name, dst, new_name)
    click.echo(f"Copied study {info.name!r} ({done.added} trials) to {new_name!r} in {dst.url}.")


def store_url_of(project: str, study_url: Optional[str], existing: bool = False) -> str:
    from hpogrid.study.transfer import store_url

    return store_url(project, study_url, _settings(), existing)


@study.command("rename")
@click.argument("project")
@click.argument("new_name")
@_STUDY
@_URL
def rename(project: str, new_name, study, study_url) -> None:
    """Rename a study to NEW_NAME (a name that is free in its store)."""
    from hpogrid.study.transfer import rename_study

    name = study or project
    with _writer(project, study_url) as store:
        rename_study(store, name, new_name)
    click.echo(f"Renamed study {name!r} to {new_name!r} in {store.url}.")


@study.command("delete")
@click.argument("project")
@_STUDY
@_URL
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def delete(project: str, study, study_url, yes) -> None:
    """Delete a study and all its trials (asks first when run at a terminal)."""
    name = study or project
    with _writer(project, study_url) as store:
        store.get_study(name)  # a missing study is an error before anything is asked
        confirm_if_interactive(f"Delete study {name!r} and all its trials from {store.url}?", yes)
        store.delete_study(name)
    click.echo(f"Deleted study {name!r} from {store.url}.")


@study.command("merge")
@click.argument("project")
@click.argument("source")
@_STUDY
@_URL
@click.option("--from-url", "from_url", metavar="URL", help="Store of SOURCE (default: the same store).")
def merge(project: str, source, study, study_url, from_url) -> None:
    """Add the trials of study SOURCE that the study does not hold yet (by uid); the study is
    created when missing and must otherwise optimise the same objectives."""
    from hpogrid.study import StudyStore
    from hpogrid.study.transfer import merge_study

    name = study or project
    with StudyStore(from_url or store_url_of(project, study_url, existing=True), access="read") as src, \
            StudyStore(store_url_of(project, study_url)) as dst:
        done = merge_study(src, source, dst, name)
    click.echo(f"Merged {done.added} trial(s) of {source!r} into {name!r} in {dst.url} "
               f"({done.skipped} already there).")


@study.command("export")
@click.argument("project")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@_STUDY
@_URL
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), help="File format (default: csv for a "
              ".csv FILE, else jsonl).")
@click.option("--to-optuna", "to_optuna", metavar="URL", help="Write an optuna study into this optuna "
              "storage URL instead of a file.")
def export(project: str, file, study, study_url, fmt, to_optuna) -> None:
    """Write a study to FILE - JSON lines (a header, then one line per trial) or CSV (a JSON
    header cell, then one row per trial with param.* and metric.* columns) - or as an optuna
    study with --to-optuna."""
    from hpogrid.study.transfer import read_study

    if bool(file) == bool(to_optuna):
        raise click.UsageError("give either FILE or --to-optuna URL")
    store, info = _reader(project, study, study_url)
    with store:
        dump = read_study(store, info.name)
    if to_optuna:
        from hpogrid.study.optuna_io import export_optuna

        where = export_optuna(dump, to_optuna)
        click.echo(f"Exported study {info.name!r} ({len(dump.trials)} trials) to optuna study {info.name!r} in {where}.")
        return
    from hpogrid.study.studyfiles import write

    write(dump, file, fmt)
    click.echo(f"Exported study {info.name!r} ({len(dump.trials)} trials) to {file}.")


@study.command("import")
@click.argument("project")
@click.argument("file", required=False, type=click.Path(dir_okay=False, exists=True))
@click.option("--study", metavar="NAME", help="Name of the imported study (default: the file's; with "
              "--from-optuna the optuna study's name, which it also selects).")
@_URL
@click.option("--from-optuna", "from_optuna", metavar="URL", help="Read the optuna study --study from this "
              "optuna storage URL instead of a file.")
@click.option("--merge", "merge_", is_flag=True, help="Add to an existing study instead of refusing.")
def import_(project: str, file, study, study_url, from_optuna, merge_) -> None:
    """Bring a study in from FILE (JSON lines or CSV, written by 'study export') or from an optuna storage; one
    transaction, so a failed import leaves nothing behind."""
    from hpogrid.study.transfer import write_study

    if bool(file) == bool(from_optuna):
        raise click.UsageError("give either FILE or --from-optuna URL")
    if from_optuna:
        if not study:
            raise click.UsageError("--from-optuna needs --study NAME (the optuna study)")
        from hpogrid.study.optuna_io import import_optuna

        dump = import_optuna(from_optuna, study)
    else:
        from hpogrid.study.studyfiles import read

        dump = read(file)
    with _writer(project, study_url, access="create") as store:
        done = write_study(store, dump, study or dump.info.name, merge=merge_)
    click.echo(f"Imported study {done.info.name!r} ({done.added} trials"
               f"{f', {done.skipped} already there' if done.skipped else ''}) into {store.url}.")


def _space_check(space):
    """``check(params)`` for :func:`hpogrid.study.results.add_results`: (field, message) of the
    first value the project's search space does not allow."""
    def check(params):
        if space is None:  # a define-by-run project declares its parameters as it runs
            return None
        names = set(space)
        for name in params:
            if name not in names:
                return f"param.{name}", "not a parameter of the project's search space"
        active = space.active(params)
        for name in active:
            if name not in params:
                return f"param.{name}", "missing"
            if not space[name].contains(params[name]):
                return f"param.{name}", f"{params[name]!r} is outside the search space ({space[name].to_dict()})"
        for name in set(params) - set(active):
            return f"param.{name}", "given although its 'when' condition does not hold"
        broken = space.violated(params)
        if broken:
            return "params", f"break the search_space constraint {broken[0].text!r}"
        return None
    return check


@study.command("add")
@click.argument("project")
@click.option("--file", "file", required=True, type=click.Path(dir_okay=False, exists=True),
              help="Results evaluated elsewhere: CSV (param.<name>, metric.<name>, optional state/uid "
                   "columns) or JSON (a list of {params, metrics, state}).")
@_STUDY
@_URL
def add(project: str, file, study, study_url) -> None:
    """Add results evaluated outside hpogrid to PROJECT's study as trials (COMPLETED unless a
    row says otherwise), marked as imported. Every row is checked against the project's search
    space and objectives first; then all are added in one transaction. A --resume or
    --warm-start run tells them to its searcher."""
    from hpogrid.objectives import Objectives
    from hpogrid.project import load_project
    from hpogrid.study import StudyInfo
    from hpogrid.study.results import add_results, read_results

    proj = load_project(project)
    space = None
    if proj.search_space:
        from hpogrid.space import SearchSpace

        space = SearchSpace.from_dict(proj.search_space)
    hpo = proj.hpo_config
    objectives = Objectives.parse(hpo["metric"], hpo["mode"], hpo.get("constraints"))
    info = StudyInfo(id=0, name=study or project, metric=objectives.metric, mode=objectives.mode,
                     attrs={"search_space": proj.search_space, **objectives.to_attrs()})
    rows = read_results(file, set(space) if space is not None else set())
    with _writer(project, study_url, access="create") as store:
        done = add_results(store, info, file, rows, _space_check(space))
    click.echo(f"Added {done.added} trial(s) from {file} to study {info.name!r} in {store.url}"
               f"{f' ({done.skipped} already there)' if done.skipped else ''}.")
