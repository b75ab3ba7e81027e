"""Create (or reuse, when unchanged) the named configs and the project of one ``optimize`` call,
and decide how its run continues the project's study.

Everything goes through the stores the other commands use (:class:`hpogrid.configs.NamedStore`,
:func:`hpogrid.project.create_project` ...), so the names shown work with every other command.
The three configs and the project share one name. A name already used with other settings is
refused before anything is written, unless ``force``: the configs are then rewritten and the
project recreated (its old folder, study included, moves to ``projects_backup``).

Continuing: ``optimize.json`` in the project folder keeps how many trials the study should
hold. A study that holds fewer, or unfinished trials, was interrupted: the run resumes it
(``--resume``) up to that count. Otherwise the run adds the trials asked for, with the searcher
told the earlier ones (a resume that re-runs nothing, without a backup).
"""
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from hpogrid import paths
from hpogrid.configs import NamedStore, get_kind
from hpogrid.errors import NotFoundError, ValidationError
from hpogrid.fileio import dump_json, read_json, write_atomic
from hpogrid.names import check_name

KINDS = ("model_config", "search_space", "hpo_config")
STATE_FILE = "optimize.json"
_UNFINISHED = ("RUNNING", "PENDING", "INTERRUPTED")


@dataclass
class Prepared:
    """The project to run and how: ``resume``/``backup``/``trials`` for its RunOptions."""

    project: str
    study: str
    trials: int
    resume: bool = False
    backup: bool = False
    #: what was created, reused or replaced, and how the study continues (shown to the user)
    lines: List[str] = field(default_factory=list)


def _space_changes(old: Dict[str, Any], new: Dict[str, Any]) -> str:
    gone = [n for n in old if n not in new]
    added = [n for n in new if n not in old]
    changed = [n for n in new if n in old and old[n] != new[n]]
    parts = [f"{', '.join(ns)} {what}" for ns, what in ((changed, "changed"), (added, "added"), (gone, "removed"))
             if ns]
    return "search_space: " + "; ".join(parts)


def _differences(name: str, wanted: Dict[str, Dict[str, Any]]) -> Tuple[List[str], Dict[str, bool]]:
    """What differs from the stored configs and project of ``name``; which configs exist."""
    diffs: List[str] = []
    exists = {}
    for kind, config in wanted.items():
        store = NamedStore(kind)
        exists[kind] = store.exists(name)
        if exists[kind]:
            stored = store.load(name)
            if stored != config:
                diffs.append(_space_changes(stored, config) if kind == "search_space" else f"{kind} {name!r}")
    if (paths.project_dir(name) / "config" / "config.json").is_file():
        from hpogrid.project import load_project

        proj = load_project(name)
        for kind, config in wanted.items():
            if (proj.configs.get(kind) != config or proj.config_names.get(kind) != name) and not any(
                    d.startswith(kind) for d in diffs):
                diffs.append(_space_changes(proj.configs.get(kind) or {}, config) if kind == "search_space"
                             else f"the project's {kind}")
    return diffs, exists


def prepare(name: str, scripts_path: Optional[str], model_config: Dict[str, Any], space: Optional[Dict[str, Any]],
            hpo: Dict[str, Any], trials: int, force: bool = False, study: Optional[str] = None,
            flags: Tuple[str, str] = ("--project NAME", "--force"),
            attach: Optional[Dict[str, str]] = None) -> Prepared:
    """Configs and project ``name`` as asked (see the module doc); nothing is written when refused.
    ``flags`` names the ways out of a refusal as the caller spells them; ``attach`` adds stored
    configs of other types by name (``{"slurm_config": "gpu"}``). ``space`` None: a
    define-by-run model (``def objective(trial)``) declares its own parameters."""
    check_name(name, "project")
    wanted = {"model_config": get_kind("model_config").validate(model_config),
              **({"search_space": get_kind("search_space").validate(space)} if space is not None else {}),
              "hpo_config": get_kind("hpo_config").check_new(hpo)}
    diffs, exists = _differences(name, wanted)
    if diffs and not force:
        raise ValidationError(
            f"project {name!r}", f"exists with other settings ({'; '.join(diffs)}): give another {flags[0]} for a "
            f"new study, or {flags[1]} to replace it (the old project and its trials move to projects_backup)")
    for kind, other in (attach or {}).items():
        NamedStore(kind).load(other)  # exists and is valid, before anything is written
    command = wanted["model_config"].get("command")
    if command and space is not None:  # its placeholders name parameters: checked before anything is written
        from hpogrid.objective.program import check_placeholders, parse_command

        names = [n for n in wanted["search_space"] if n != "constraints"]
        check_placeholders(parse_command(command), names)
    lines: List[str] = []
    undo: List[Tuple[str, Optional[Dict[str, Any]]]] = []  # (kind, config it had) to restore on failure
    try:
        for kind, config in wanted.items():
            store = NamedStore(kind)
            if not exists[kind]:
                undo.append((kind, None))
                store.create(name, config)
                lines.append(f"{kind} {name!r}: created")
            elif diffs:
                undo.append((kind, store.load(name)))
                store.recreate(name, config)
                lines.append(f"{kind} {name!r}: replaced ({flags[1]})")
            else:
                lines.append(f"{kind} {name!r}: unchanged, reused")
        lines.append(_project(name, scripts_path, {**{kind: name for kind in wanted}, **(attach or {})}, bool(diffs)))
    except BaseException:
        for kind, config in reversed(undo):  # a refused project (its script, its placeholders): as before
            if config is None:
                NamedStore(kind).remove(name)
            else:
                NamedStore(kind).recreate(name, config)
        raise
    return _continuation(name, study or name, trials, lines)


def _project(name: str, scripts_path: Optional[str], names: Dict[str, Optional[str]], replace: bool) -> str:
    """Create, recreate (``replace``) or update project ``name``; what was done, in words."""
    from hpogrid.project import create_project, load_project, recreate_project, update_project

    empty = None
    if scripts_path is None:  # a program naming no file of its own: an empty scripts folder
        empty = tempfile.mkdtemp(prefix="hpogrid-optimize-")
    source = scripts_path or str(empty)
    try:
        if not (paths.project_dir(name) / "config" / "config.json").is_file():
            create_project(name, source, names)
            return f"project {name!r}: created"
        if replace:
            _, backup = recreate_project(name, source, names)
            return f"project {name!r}: recreated (the old one is in {backup})"
        before = load_project(name).content_hash
        after = update_project(name, scripts_path, names).content_hash
        return f"project {name!r}: " + ("unchanged, reused" if before == after else
                                        "scripts changed, project updated (its trials are kept)")
    finally:
        if empty is not None:
            shutil.rmtree(empty, ignore_errors=True)


def _continuation(project: str, study: str, trials: int, lines: List[str]) -> Prepared:
    state_path = paths.project_dir(project) / STATE_FILE
    state = read_json(state_path) if state_path.is_file() else {}
    targets = state.get("targets", {}) if isinstance(state, dict) else {}
    counts = _study_counts(project, study)
    finished = counts.get("COMPLETED", 0) + counts.get("FAILED", 0)
    unfinished = sum(counts.get(s, 0) for s in _UNFINISHED)
    target = targets.get(study)
    out = Prepared(project=project, study=study, trials=trials, lines=lines)
    if not counts:
        out.lines.append(f"study {study!r}: new, {trials} trials")
        target = trials
    elif unfinished or (isinstance(target, int) and finished < target):
        target = target if isinstance(target, int) else finished + unfinished
        out.resume, out.backup, out.trials = True, True, target
        out.lines.append(f"study {study!r}: its last run was interrupted ({finished} of {target} trials "
                         f"finished): resuming it (--resume), {target} trials in all")
    else:
        target = finished + trials
        out.resume, out.trials = True, target
        out.lines.append(f"study {study!r}: continuing with {trials} new trials after its {finished} "
                         "(the searcher is told the earlier ones)")
    write_atomic(state_path, dump_json({"targets": {**targets, study: target}}))
    return out


def _study_counts(project: str, study: str) -> Dict[str, int]:
    from hpogrid.study import load

    try:
        view = load(project, study)
    except NotFoundError:
        return {}
    with view:
        return dict(view.counts())
