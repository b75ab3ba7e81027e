"""``hpogrid run PROJECT``: one PanDA task of N jobs whose payload is hpogrid itself."""
from __future__ import annotations

import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from hpogrid.backends.panda._job import OUTPUTS
from hpogrid.backends.panda._records import Submission, record_submission
from hpogrid.errors import CredentialsError, ValidationError

if TYPE_CHECKING:
    from hpogrid.project import Project

#: rucio's rule for dataset names (scope.name parts): letters, digits and . _ - only
_DATASET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,249}$")
#: failed jobs are retried by PanDA up to this many attempts when grid_config retry is on
RETRY_ATTEMPTS = 3
#: Rucio's limit on a container name; PanDA makes one per output (<outDS>_<file>/) and the log
CONTAINER_LIMIT = 132


def output_containers(out_ds: str) -> List[str]:
    """The containers a task's outputs land in (what ``hpogrid dataset download`` takes)."""
    return [f"{out_ds}_{name}/" for name in OUTPUTS] + [f"{out_ds}.log/"]


@dataclass
class GridRunOptions:
    n_jobs: int = 1
    site: Optional[str] = None
    architecture: Optional[str] = None
    trials: Optional[int] = None     # per job (default: the hpo_config's)
    seed: Optional[int] = None       # job k searches with seed + k (default: a fresh random base)


def rucio_account() -> str:
    account = os.environ.get("RUCIO_ACCOUNT", "").strip()
    if not account:
        raise CredentialsError("RUCIO_ACCOUNT is not set: export RUCIO_ACCOUNT=<your grid user name> "
                               "(it names the output dataset user.<account>.hpogrid...)")
    if not _ACCOUNT.fullmatch(account):  # (blamed on the variable, not on the outDS it goes into)
        raise ValidationError("RUCIO_ACCOUNT", f"{account!r} is not a Rucio account name (lower-case letters, "
                              "digits, '-' and '_', at most 30 characters): export your grid user name")
    return account


#: Rucio's own rule for an account name
_ACCOUNT = re.compile(r"[a-z0-9_-]{1,30}")


def resolve_out_ds(template: str, project: str, now: datetime) -> str:
    """Fill the outDS template: ``${RUCIO_ACCOUNT}``, ``{HPO_PROJECT_NAME}``, ``$(date +FMT)``."""
    name = template
    if "RUCIO_ACCOUNT" in name:
        name = re.sub(r"\$\{\{?RUCIO_ACCOUNT\}?\}|\{RUCIO_ACCOUNT\}", rucio_account(), name)
    name = name.replace("{HPO_PROJECT_NAME}", project)
    name = re.sub(r"\$\(date \+([^)]*)\)", lambda m: now.strftime(m.group(1)), name)
    if not _DATASET.match(name):
        raise ValidationError("grid_config.outDS", f"{name!r} is not a dataset name (letters, digits and "
                              ". _ - only, at most 250 characters; placeholders: ${{RUCIO_ACCOUNT}}, "
                              "{HPO_PROJECT_NAME}, $(date +%Y%m%d%H%M%S))")
    longest = max(output_containers(name), key=len)
    if len(longest) > CONTAINER_LIMIT:
        raise ValidationError("grid_config.outDS", f"{name!r} is too long: its output container {longest!r} has "
                              f"{len(longest)} characters, Rucio allows {CONTAINER_LIMIT} (shorten the outDS "
                              "or the project name)")
    return name


def _site(grid: Dict[str, Any], override: Optional[str]) -> Optional[str]:
    site = override or grid.get("site")
    if isinstance(site, list):
        return ",".join(site) or None
    return site or None


def _out_ds(project: Project, now: datetime) -> str:
    from hpogrid.configs import get_kind

    grid = project.configs.get("grid_config") or get_kind("grid_config").validate({})
    return resolve_out_ds(grid["outDS"], project.name, now)


def build_spec(project: Project, options: GridRunOptions, sandbox: Path, now: Optional[datetime] = None):
    """The PanDA task of ``project``: payload, sandbox, datasets, site and retries."""
    from hpogrid.backends.panda._sandbox import job_command
    from hpogrid.configs import get_kind
    from hpogrid.grid.panda import TaskSpec

    grid = project.configs.get("grid_config") or get_kind("grid_config").validate({})
    now = now or datetime.now(timezone.utc)
    out_ds = resolve_out_ds(grid["outDS"], project.name, now)
    # a fresh block of seeds per submission unless the user asks for reproducible ones
    seed_base = options.seed if options.seed is not None else 1000 * secrets.randbelow(10**6)
    kwargs: Dict[str, Any] = {}
    if options.architecture is not None:
        kwargs["architecture"] = options.architecture
    return TaskSpec(
        taskname=out_ds,
        exec_args=job_command(grid.get("container"), "grid_job", project.name, "--seed", f"%RNDM:{seed_base}")
        + (("--trials", str(options.trials)) if options.trials else ()),
        sandbox=sandbox, n_jobs=options.n_jobs, out_ds=out_ds, outputs=OUTPUTS,
        container=grid.get("container"), site=_site(grid, options.site), in_ds=grid.get("inDS"),
        max_attempt=RETRY_ATTEMPTS if grid.get("retry") else 1, extra=tuple((grid.get("extra") or {}).items()),
        **kwargs)


def dry_run(project: Project, options: GridRunOptions) -> Dict[str, Any]:
    """The task parameters ``run`` would submit; nothing is uploaded or recorded."""
    from hpogrid.backends.panda._sandbox import pack_project
    from hpogrid.grid.panda import task_params

    with tempfile.TemporaryDirectory(prefix="hpogrid-sandbox-") as tmp:
        sandbox = pack_project(project, Path(tmp))
        return task_params(build_spec(project, options, sandbox), sandbox_name=sandbox.name)


def submit_project(project: Project, options: GridRunOptions, gateway=None) -> Submission:
    """Pack, upload and submit the project's task, then record it in the project."""
    from hpogrid.backends.panda._sandbox import pack_project
    from hpogrid.grid.panda import PandaGateway

    gateway = gateway or PandaGateway()
    gateway.check_configuration()
    with tempfile.TemporaryDirectory(prefix="hpogrid-sandbox-") as tmp:
        now = datetime.now(timezone.utc)
        sandbox = pack_project(project, Path(tmp), out_ds=_out_ds(project, now))  # (a retry finds its log by it)
        spec = build_spec(project, options, sandbox, now)
        try:
            task_id = gateway.submit(spec)
        except KeyboardInterrupt:  # Ctrl-C after PanDA took the task must not lose it
            task_id = _submitted_meanwhile(gateway, spec)
            if task_id is None:
                raise
            record_submission(project.path, _submission(spec, task_id))
            raise KeyboardInterrupt(f"task {task_id} was submitted before the interruption; "
                                    "it is recorded in the project") from None
    submission = _submission(spec, task_id)
    record_submission(project.path, submission)
    return submission


def _submitted_meanwhile(gateway, spec) -> Optional[int]:
    """The task PanDA created for ``spec`` although the submission was interrupted, if any."""
    try:
        tasks = gateway.list_tasks(taskname=f"{spec.taskname}*", days=1)
    except Exception:  # noqa: BLE001 - best effort while the user is leaving
        return None
    ids = [int(t["jeditaskid"]) for t in tasks if str(t.get("taskname", "")).rstrip("/") == spec.taskname]
    return max(ids) if ids else None


def _submission(spec, task_id: int) -> Submission:
    return Submission(task_id=int(task_id), taskname=spec.taskname,
                      submitted_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                      site=spec.site, out_ds=spec.out_ds, n_jobs=spec.n_jobs,
                      container=spec.container, in_ds=spec.in_ds)
