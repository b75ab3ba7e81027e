"""Build the JEDI task-parameter map that ``prun`` would build for an hpogrid task.

The map mirrors ``prun --exec ... --nJobs N --noBuild --containerImage IMG --useSandbox
--outputs ... --site ... --maxAttempt ... --architecture ...`` of panda-client 2.2
(``PrunScript.main``), so a real JEDI splits it exactly like a prun task: no input
dataset -> ``noInput`` with ``nEvents = N`` and ``nEventsPerJob = 1`` (one job per event);
``%RNDM:<base>`` in the exec string -> a ``seq_number`` pseudo input whose value is
``base + serial number`` of the job (serial numbers start at 1, a retried job keeps its
serial and so its seed). The exec string is URL-quoted like prun does, runGen unquotes it.

Pure functions, no panda-client import (that import resolves host names).
"""
from __future__ import annotations

import platform
import re
import shlex
from typing import Dict, List, Optional
from urllib.parse import quote, urlparse

# prun's --architecture grammar is "@base_platform#CPU_spec&GPU_spec"; "&nvidia" asks the
# brokerage for a queue with an NVIDIA GPU and leaves platform/CPU free.
DEFAULT_ARCHITECTURE = "&nvidia"
DEFAULT_CACHE_URL = "https://pandacache.cern.ch/server/panda"
DEFAULT_URL_SSL = "https://pandaserver.cern.ch/server/panda"

_RNDM = re.compile(r"%RNDM(:|=)(\d+)%?")
# the placeholder split of PsubUtils.convertParamStrToJediParam for ${SEQNUMBER}
_SEQ_SPLIT = re.compile(r"([^=,\"' \(\{;]*\$\{SEQNUMBER[^\}]*\}[^,\"' \)\};]*)")


def panda_client_version() -> str:
    """Version of the installed panda-client, read without importing it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("panda-client")
    except PackageNotFoundError:  # pragma: no cover - panda-client is a dependency
        return "unknown"


def source_url(env: Dict[str, str]) -> str:
    """scheme://host[:port] the sandbox is fetched from (prun: the cache server's URL)."""
    base = env.get("PANDACACHE_URL") or (env.get("PANDA_URL_SSL") or DEFAULT_CACHE_URL)
    parsed = urlparse(base)
    return f"{parsed.scheme}://{parsed.netloc}"


def out_ds_name(out_ds: str) -> str:
    """prun appends '/' to --outDS (an output container)."""
    return out_ds if out_ds.endswith("/") else out_ds + "/"


def exec_string(exec_args) -> str:
    """The shell-quoted exec string with ``%RNDM:<base>`` normalised to prun's ``%RNDM=<base>``."""
    return _RNDM.sub(lambda m: f"%RNDM={m.group(2)}", shlex.join(exec_args))


def rndm_base(exec_args) -> Optional[int]:
    """The ``%RNDM`` base of the exec args (one base per task, as prun/JEDI allow), or None."""
    bases = {int(m.group(2)) for arg in exec_args for m in _RNDM.finditer(arg)}
    if len(bases) > 1:
        from hpogrid.errors import ValidationError

        raise ValidationError("exec_args", f"all %RNDM tokens must use the same base, got {sorted(bases)}")
    return bases.pop() if bases else None


def exec_job_params(exec_args) -> List[dict]:
    """The ``-p "<exec>"`` items of jobParameters, like PsubUtils.convertParamStrToJediParam."""
    base = rndm_base(exec_args)
    enc = _RNDM.sub("${SEQNUMBER}", exec_string(exec_args))
    items: List[dict] = [{"type": "constant", "value": '-p "', "padding": False}]
    for piece in _SEQ_SPLIT.split(enc):
        if _SEQ_SPLIT.fullmatch(piece) and "${SEQNUMBER}" in piece:
            item = {"type": "template", "value": piece, "param_type": "pseudo_input", "dataset": "seq_number"}
            if base is not None:
                item["offset"] = base
        else:
            item = {"type": "constant", "value": quote(piece)}
        item["padding"] = False
        items.append(item)
    items.append({"type": "constant", "value": '"'})
    return items


def output_job_params(out_ds: str, outputs) -> List[dict]:
    """prun --outputs: one output dataset per file, LFN ``<scope.user>.$JEDITASKID._${SN/P}.<file>``."""
    if not outputs:
        return []
    fields = out_ds.split(".")
    prefix = f"{fields[0]}.{fields[1]}" if len(fields) > 2 else out_ds[:-1]
    items, out_map = [], {}
    for name in outputs:
        lfn = f"{prefix}.$JEDITASKID._${{SN/P}}.{name}"
        dataset = f"{out_ds[:-1]}_{name}/"
        items.append({"type": "template", "value": lfn, "param_type": "output", "dataset": dataset,
                      "container": dataset, "hidden": True})
        out_map[name] = lfn
    items.append({"type": "constant", "value": f'-o "{out_map}"'})
    return items


def input_job_params(in_ds: str) -> List[dict]:
    """Every job reads the whole input dataset: prun ``--secondaryDSs IN:0:<ds> --reusableSecondary IN``."""
    return [
        {"type": "template", "value": "${IN}", "param_type": "input", "dataset": in_ds, "expand": True,
         "reusable": True, "hidden": True},
        {"type": "constant", "value": "--inMap \"{'IN': ${IN/T}}\""},
    ]


def cli_params(spec, sandbox_name: str) -> str:
    """The equivalent prun command line, shown by ``hpogrid run --dry-run`` and stored in the task."""
    argv = ["prun", "--exec", exec_string(spec.exec_args), "--outDS", out_ds_name(spec.out_ds),
            "--nJobs", str(spec.n_jobs), "--noBuild", "--useSandbox"]
    if spec.container:
        argv += ["--containerImage", spec.container]
    if spec.outputs:
        argv += ["--outputs", ",".join(spec.outputs)]
    if spec.site:
        argv += ["--site", spec.site]
    if spec.in_ds:
        argv += ["--secondaryDSs", f"IN:0:{spec.in_ds}", "--reusableSecondary", "IN"]
    if spec.max_attempt:
        argv += ["--maxAttempt", str(spec.max_attempt)]
    architecture = DEFAULT_ARCHITECTURE if spec.architecture is None else spec.architecture
    if architecture:
        argv += ["--architecture", architecture]
    return shlex.join(argv)


def _check(spec) -> None:
    from hpogrid.errors import ValidationError

    if int(spec.n_jobs) < 1:
        raise ValidationError("n_jobs", f"must be at least 1, got {spec.n_jobs}")
    if not spec.out_ds or not spec.taskname:
        raise ValidationError("out_ds", "an output dataset name (user.<nickname>.<name>) is required")
    if not spec.exec_args:
        raise ValidationError("exec_args", "the job command is empty")
    for name in spec.outputs:
        if not name or "/" in name or "*" in name or "," in name:
            raise ValidationError("outputs", f"{name!r}: an output is a plain file name (no '/', '*' or ',')")
    if spec.max_attempt is not None and not 1 <= int(spec.max_attempt) <= 50:
        raise ValidationError("max_attempt", f"must be between 1 and 50 (PanDA's limit), got {spec.max_attempt}")


def build_task_params(spec, sandbox_name: str, env: Dict[str, str]) -> dict:
    """The taskParamMap ``prun`` would submit for ``spec`` (see the module docstring)."""
    _check(spec)
    out_ds = out_ds_name(spec.out_ds)
    log_ds = re.sub("/$", ".log/", out_ds)
    architecture = DEFAULT_ARCHITECTURE if spec.architecture is None else spec.architecture
    params: dict = {
        "taskName": out_ds if spec.taskname == spec.out_ds else spec.taskname,
        "uniqueTaskName": True,
        "vo": "atlas",
        "architecture": architecture,
        "transUses": "",
        "transHome": None,
        "processingType": f"panda-client-{panda_client_version()}-jedi-run",
        "prodSourceLabel": "user",
        # prun: several comma-separated sites become includedSite and the site is left to PanDA
        "site": spec.site if spec.site and "," not in spec.site else None,
        "excludedSite": [],
        "includedSite": [s.strip() for s in spec.site.split(",") if s.strip()] if spec.site and "," in spec.site
        else None,
        "nEvents": spec.n_jobs,
        "nEventsPerJob": 1,
        "cliParams": cli_params(spec, sandbox_name),
        "osInfo": platform.platform(),
        "nMaxFilesPerJob": 200,
        "respectSplitRule": True,
        "sourceURL": source_url(env),
        "log": {"dataset": log_ds, "container": log_ds, "type": "template", "param_type": "log",
                "value": f"{log_ds[:-1]}.$JEDITASKID.${{SN}}.log.tgz"},
        "noInput": True,
    }
    if spec.max_attempt is not None and 0 < spec.max_attempt <= 50:
        params["maxAttempt"] = spec.max_attempt
    if spec.container:
        params["container_name"] = spec.container
        params["multiStepExec"] = {
            "preprocess": {"command": "${TRF}", "args": "--preprocess ${TRF_ARGS}"},
            "postprocess": {"command": "${TRF}", "args": "--postprocess ${TRF_ARGS}"},
            "containerOptions": {
                "containerExec": 'echo "=== cat exec script ==="; cat __run_main_exec.sh; echo; '
                                 'echo "=== exec script ==="; /bin/sh __run_main_exec.sh',
                "containerImage": spec.container,
            },
        }
    params.update(dict(spec.extra))  # grid_config extra: keys prun sets that hpogrid does not
    job_params = [
        {"type": "constant", "value": '-j "" --sourceURL ${SURL}'},
        {"type": "constant", "value": "-r ."},
        {"type": "constant", "value": "__delimiter__", "hidden": True},
        {"type": "constant", "value": f"-a {sandbox_name}"},
    ]
    job_params += output_job_params(out_ds, spec.outputs)
    job_params += exec_job_params(spec.exec_args)
    if spec.in_ds:
        job_params += input_job_params(spec.in_ds)
        params["reuseSecOnDemand"] = True
    params["jobParameters"] = job_params
    return params
