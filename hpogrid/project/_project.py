"""Projects: a self-contained folder bundling a snapshot of the configs with the scripts.

Layout (same as hpogrid 1.3.3, so old projects load)::

    projects/NAME/config/config.json   project_name, scripts_path, the four config dicts, ...
    projects/NAME/scripts/             copy of the training scripts
    projects/NAME/study.db             trials of every run (written by the backends)

A project never changes when a named config is edited later; ``update`` re-snapshots.
"""
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional

from hpogrid import __version__, paths
from hpogrid.configs import NamedStore, get_kind
from hpogrid.errors import AlreadyExistsError, NotFoundError, ValidationError
from hpogrid.fileio import dump_json, read_json, write_atomic
from hpogrid.names import check_name, check_no_case_twin
from hpogrid.project._scripts import IGNORED, check_scripts_folder

CONFIG_TYPES = ("model_config", "search_space", "hpo_config", "grid_config", "slurm_config")
#: config types a project may go without (grid_config: local runs; slurm_config: no Slurm;
#: search_space: a define-by-run model, ``def objective(trial)``, declares its own parameters)
OPTIONAL_TYPES = ("grid_config", "slurm_config", "search_space")
_IGNORE = shutil.ignore_patterns(*IGNORED)


@dataclass
class Project:
    """A loaded project; ``configs`` holds the validated snapshot of each config type."""

    name: str
    path: Path
    configs: Dict[str, Optional[Dict[str, Any]]]
    config_names: Dict[str, Optional[str]] = field(default_factory=dict)
    #: said once when the project is written (e.g. scripts larger than a grid sandbox), not stored
    warnings: List[str] = field(default_factory=list)
    scripts_path: Optional[str] = None
    created_at: Optional[str] = None
    updated_at: Optional[str] = None
    content_hash: Optional[str] = None

    @property
    def scripts_dir(self) -> Path:
        return self.path / "scripts"

    @property
    def hpo_config(self) -> Dict[str, Any]:
        return self._required("hpo_config")

    @property
    def model_config(self) -> Dict[str, Any]:
        return self._required("model_config")

    @property
    def search_space(self) -> Optional[Dict[str, Any]]:
        """None for a model that defines its parameters as it runs (``def objective(trial)``)."""
        return self.configs.get("search_space")

    def _required(self, ctype: str) -> Dict[str, Any]:
        """A config every project has (loading a project without it fails)."""
        config = self.configs.get(ctype)
        if config is None:
            raise ValidationError(f"project {self.name!r}", f"has no {ctype}")
        return config

    @property
    def grid_config(self) -> Optional[Dict[str, Any]]:
        return self.configs.get("grid_config")

    @property
    def slurm_config(self) -> Optional[Dict[str, Any]]:
        return self.configs.get("slurm_config")

    def to_json_dict(self) -> Dict[str, Any]:
        return {
            "project_name": self.name,
            "scripts_path": self.scripts_path,
            **{t: self.configs.get(t) for t in CONFIG_TYPES},
            "config_names": self.config_names,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "content_hash": self.content_hash,
            "hpogrid_version": __version__,
        }


def config_file(project_path: Path) -> Path:
    """The project's config snapshot (``config/config.json`` in its folder)."""
    return project_path / "config" / "config.json"


def list_projects() -> List[str]:
    root = paths.projects_dir()
    if not root.is_dir():
        return []
    names = []
    for p in sorted(root.iterdir()):
        if config_file(p).is_file() and not p.name.startswith("."):
            names.append(p.name)
    return names


def require_project(name: str) -> Path:
    """The folder of project ``name``, which must exist (its config need not be readable)."""
    check_name(name, "project")
    path = paths.project_dir(name)
    if not config_file(path).is_file():
        have = ", ".join(list_projects()) or "none yet"
        raise NotFoundError(f"project {name!r} does not exist (existing: {have})")
    return path


def load_project(name: str) -> Project:
    path = require_project(name)
    cfg = config_file(path)
    try:
        raw = read_json(cfg)
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        raise ValidationError(f"project {name!r}", f"cannot read {cfg}: {str(exc)[:200]}; 'hpogrid project "
                                                   f"recreate {name} ...' rebuilds it, 'remove' deletes it") from None
    configs: Dict[str, Optional[Dict[str, Any]]] = {}
    for ctype in CONFIG_TYPES:
        data = raw.get(ctype)
        if data is None and ctype in OPTIONAL_TYPES:
            configs[ctype] = None
            continue
        if data is None:
            raise ValidationError(f"project {name!r}", f"{cfg} has no {ctype}")
        configs[ctype] = get_kind(ctype).validate(data)
    return Project(
        name=name, path=path, configs=configs,
        config_names=raw.get("config_names") or {},
        scripts_path=raw.get("scripts_path"),
        created_at=raw.get("created_at"), updated_at=raw.get("updated_at"),
        content_hash=raw.get("content_hash"),
    )


def _snapshot(config_names: Dict[str, Optional[str]]) -> Dict[str, Optional[Dict[str, Any]]]:
    """Load and validate each named config; a missing one is an error naming what exists."""
    configs: Dict[str, Optional[Dict[str, Any]]] = {}
    for ctype in CONFIG_TYPES:
        name = config_names.get(ctype)
        if name is None:
            if ctype not in OPTIONAL_TYPES:
                raise ValidationError(f"project.{ctype}", "is required (name of a stored "
                                      f"{ctype}, see 'hpogrid {ctype} list')")
            configs[ctype] = None
            continue
        configs[ctype] = NamedStore(ctype).load(name)
    return configs


def _check_scripts_path(scripts_path: str, warnings: Optional[List[str]] = None) -> Path:
    src = Path(scripts_path).expanduser()
    if not src.exists():
        raise ValidationError("project.scripts_path", f"{scripts_path!r} does not exist")
    if not (src.is_file() or src.is_dir()):
        raise ValidationError("project.scripts_path", f"{scripts_path!r} is not a file or directory")
    _, found = check_scripts_folder(src.resolve())
    if warnings is not None:
        warnings.extend(found)
    return src.resolve()


def _copy_scripts(src: Path, dest: Path) -> None:
    if src.is_dir():
        shutil.copytree(src, dest, ignore=_IGNORE, dirs_exist_ok=True)
    else:
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / src.name)


def _check_script(configs: Dict[str, Any], scripts_dir: Path) -> None:
    from hpogrid.objective import Model, ModelKind

    # the kind is read from the source, not imported: creating a project runs none of the user's code
    model = Model.from_config(configs["model_config"], scripts_dir, imports=False)
    if model.kind is ModelKind.PROGRAM:  # nothing to find; its placeholders must name parameters
        if configs.get("search_space") is None:
            raise ValidationError("project.search_space", "is required for a program (model_config command)")
        from hpogrid.space import SearchSpace

        model.check(SearchSpace.from_dict(configs["search_space"]))  # (parses the command, runs nothing)
        return
    if not (scripts_dir / str(model.script)).is_file():
        have = sorted(str(p.relative_to(scripts_dir)) for p in scripts_dir.rglob("*") if p.is_file())
        raise ValidationError("model_config.script", f"{model.script!r} is not among the project's "
                              f"scripts (scripts_path has: {', '.join(have[:20]) or 'no files'})")
    if configs.get("search_space") is None and model.kind is not ModelKind.DEFINE_BY_RUN:
        raise ValidationError("project.search_space", f"is required: {model.entry}() in {model.script} does not "
                              f"take a trial (only a define-by-run model, def {model.entry}(trial), goes without one)")


def content_hash(configs: Dict[str, Any], scripts_dir: Path) -> str:
    """sha256 over the config snapshot and every script's path and bytes."""
    h = hashlib.sha256(json.dumps(configs, sort_keys=True).encode())
    for p in sorted(scripts_dir.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(scripts_dir)).encode() + b"\0")
            h.update(p.read_bytes())
    return h.hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _write_project(path: Path, project: Project) -> None:
    project.content_hash = content_hash(project.configs, path / "scripts")
    write_atomic(config_file(path), dump_json(project.to_json_dict()))


def create_project(name: str, scripts_path: str, config_names: Dict[str, Optional[str]]) -> Project:
    """Build the project in a hidden temp folder, then publish it with one rename."""
    final = paths.project_dir(name)
    configs = _snapshot(config_names)
    warnings: List[str] = []
    src = _check_scripts_path(scripts_path, warnings)
    if final.exists():
        raise AlreadyExistsError(f"project {name!r} already exists; use 'hpogrid project "
                                 "recreate' to replace it or 'update' to refresh it")
    check_no_case_twin(name, list_projects(), "project")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=final.parent))
    try:
        _copy_scripts(src, tmp / "scripts")
        _check_script(configs, tmp / "scripts")
        now = _now()
        project = Project(name=name, path=final, configs=configs,
                          config_names={t: config_names.get(t) for t in CONFIG_TYPES},
                          scripts_path=str(src), created_at=now, updated_at=now, warnings=warnings)
        _write_project(tmp, project)
        try:
            os.rename(tmp, final)
        except OSError:
            raise AlreadyExistsError(f"project {name!r} already exists") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return project


def update_project(name: str, scripts_path: Optional[str] = None,
                   config_names: Optional[Dict[str, Optional[str]]] = None) -> Project:
    """Re-snapshot the named configs (new names where given) and re-copy the scripts.

    The study and anything else in the project folder stay untouched.
    """
    from filelock import FileLock

    project = load_project(name)
    with FileLock(str(project.path / ".lock"), timeout=60):
        names = {**project.config_names, **{k: v for k, v in (config_names or {}).items() if v}}
        for ctype in CONFIG_TYPES:
            if names.get(ctype) is None and project.configs.get(ctype) is not None and ctype not in OPTIONAL_TYPES:
                raise ValidationError(f"project.{ctype}", "this project was made by an older hpogrid "
                                      f"and does not know its {ctype} name; pass --{ctype}")
        configs = _snapshot(names)
        _keep_input_dataset(project.configs.get("grid_config"), configs)
        src_str = scripts_path or project.scripts_path
        new_scripts, new_source = None, None
        if src_str and Path(src_str).expanduser().exists():
            new_source = str(Path(src_str).expanduser().resolve())
            src = _check_scripts_path(src_str, project.warnings)
            new_scripts = Path(tempfile.mkdtemp(prefix=".scripts-", dir=project.path))
            _copy_scripts(src, new_scripts)
        elif scripts_path:
            _check_scripts_path(scripts_path)  # raises with the reason
        try:
            _check_script(configs, new_scripts or project.scripts_dir)
            if new_scripts is not None:
                old = project.path / ".scripts-old"
                shutil.rmtree(old, ignore_errors=True)
                if project.scripts_dir.exists():
                    os.rename(project.scripts_dir, old)
                os.rename(new_scripts, project.scripts_dir)
                new_scripts = None
                shutil.rmtree(old, ignore_errors=True)
                project.scripts_path = new_source
        finally:
            if new_scripts is not None:
                shutil.rmtree(new_scripts, ignore_errors=True)
        project.configs, project.config_names = configs, names
        project.updated_at = _now()
        _write_project(project.path, project)
    return project


def _keep_input_dataset(old: Optional[Dict[str, Any]], configs: Dict[str, Any]) -> None:
    """An inDS recorded by ``hpogrid dataset upload`` survives re-snapshotting a grid_config
    that names none (a grid_config that names its own inDS wins)."""
    did = (old or {}).get("inDS")
    if not did:
        return
    if configs.get("grid_config") is None:
        configs["grid_config"] = {**(old or {})}
    elif not configs["grid_config"].get("inDS"):
        configs["grid_config"] = {**configs["grid_config"], "inDS": did}


def remove_project(name: str) -> None:
    """Delete the project folder; works whatever state its config file is in."""
    shutil.rmtree(require_project(name))


def backup_project(name: str) -> Path:
    """Move a project aside to ``projects_backup/NAME_<timestamp>`` (used by recreate)."""
    src = paths.project_dir(name)
    dest_root = paths.home() / "projects_backup"
    dest_root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d%H%M%S")
    dest, n = dest_root / f"{name}_{stamp}", 1
    while dest.exists():
        n += 1
        dest = dest_root / f"{name}_{stamp}_{n}"
    os.rename(src, dest)
    return dest


def recreate_project(name: str, scripts_path: str,
                     config_names: Dict[str, Optional[str]]) -> "tuple[Project, Optional[Path]]":
    """Replace a project; the old one (with its study) is kept as a backup, never deleted."""
    check_name(name, "project")
    _snapshot(config_names)  # fail before moving anything
    _check_scripts_path(scripts_path)
    backup = backup_project(name) if paths.project_dir(name).exists() else None
    try:
        return create_project(name, scripts_path, config_names), backup
    except Exception:
        if backup is not None and not paths.project_dir(name).exists():
            os.rename(backup, paths.project_dir(name))
        raise


def set_input_dataset(name: str, did: str) -> Project:
    """Record ``did`` as the project's input dataset (``grid_config.inDS``).

    Called after a successful Rucio upload. A project without a grid_config gets the default
    one; every other setting of the snapshot stays as it was.
    """
    from filelock import FileLock

    path = load_project(name).path
    with FileLock(str(path / ".lock"), timeout=60):
        project = load_project(name)  # re-read under the lock
        grid = dict(project.configs.get("grid_config") or {})
        grid["inDS"] = did
        project.configs["grid_config"] = get_kind("grid_config").validate(grid)
        project.updated_at = _now()
        _write_project(project.path, project)
    return project
