"""Run a project's workflow: stages in dependency order, each in its own folder.

A stage that finished writes ``.done`` in its folder; ``--continue`` skips those, and
``--stage S`` runs S (always) plus what it needs that is not done yet. An optimisation stage
is a run of the engine on the backend it names, into the study named after it; running it
again resumes that study (the searcher is told the earlier trials, interrupted ones re-run,
new ones up to its ``trials``); one none of whose trials completed fails (as o2tuner stops at
the objective's error). ``cmd`` stages run without a shell: globs are expanded (o2tuner's
``cp -r <from>/* .``), pipes and variables are not (write a Python stage or a script for those).
"""
import contextlib
import dataclasses
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from hpogrid.errors import BackendError, NotFoundError, ValidationError
from hpogrid.project import Project
from hpogrid.trial import WORKFLOW_DIR_ENV
from hpogrid.workflow._spec import OptimisationStage, UserStage, Workflow, parse_workflow

DEFAULT_FILE = "workflow.json"
#: the workflow file among the project's scripts, in JSON or YAML (echo-opt/o2tuner users' format)
DEFAULT_FILES = (DEFAULT_FILE, "workflow.yaml", "workflow.yml")


def load_workflow(project: Optional[Project], file: Optional[str] = None) -> Workflow:
    """The workflow of ``file`` (JSON, or YAML for .yaml/.yml), else the project's
    workflow.json / workflow.yaml / workflow.yml (only one of them may exist)."""
    if file:
        path = Path(file)
    else:
        assert project is not None, "a workflow file, or the project whose scripts hold one"
        found = [project.scripts_dir / name for name in DEFAULT_FILES if (project.scripts_dir / name).is_file()]
        if len(found) > 1:
            raise ValidationError("workflow", f"the project's scripts hold {' and '.join(p.name for p in found)}; "
                                  "keep one (or choose with --file)")
        path = found[0] if found else project.scripts_dir / DEFAULT_FILE
        if not path.is_file():
            raise NotFoundError(f"no workflow file {path} (put {' or '.join(DEFAULT_FILES)} among the project's "
                                "scripts or give --file)")
    return read_workflow(path)


def read_workflow(path: Path) -> Workflow:
    """The workflow in the file ``path`` (JSON, or YAML for .yaml/.yml)."""
    from hpogrid.datafile import read_file

    if not path.is_file():
        raise NotFoundError(f"no workflow file {path}")
    return parse_workflow(read_file(path, "workflow"))


def check_scripts_workflow(scripts_path: str) -> None:
    """A workflow file among the scripts a project is made from is checked then, as every config
    is when written: it parses, and each python stage names a file among those scripts."""
    from hpogrid.datafile import read_file

    folder = Path(scripts_path).expanduser()
    if not folder.is_dir():
        return
    found = [folder / name for name in DEFAULT_FILES if (folder / name).is_file()]
    if len(found) > 1:
        raise ValidationError("workflow", f"the scripts hold {' and '.join(p.name for p in found)}; keep one")
    if not found:
        return
    wf = parse_workflow(read_file(found[0], "workflow"))
    for name, stage in wf.stages_user.items():
        if stage.python is not None and not (folder / stage.python).is_file():
            raise ValidationError(f"workflow.{name}.python", f"{stage.python!r} is not among the scripts "
                                  f"({folder})")


def workflow_dir(project: Project) -> Path:
    return project.path / "workflow"


def is_done(project: Project, folder: str) -> bool:
    """Has the stage whose folder is ``folder`` (:meth:`Workflow.folder`) finished?"""
    return (workflow_dir(project) / folder / ".done").is_file()


def run_workflow(project: Project, wf: Workflow, stage: "Optional[str] | Sequence[str]" = None, resume: bool = False,
                 say: Callable[[str], None] = print, progress: bool = True,
                 study_url: Optional[str] = None) -> List[Tuple[str, str]]:
    """Run the stages; returns (stage, "ran" | "skipped") in the order handled. ``stage``: one
    stage or several (o2tuner's ``-s A B``), each run again, with what they need not done yet."""
    from hpogrid.engine import scoped_environ

    stages = [stage] if isinstance(stage, str) else list(stage or [])
    for name in stages:
        if name not in wf.stages:
            raise ValidationError("--stage", f"unknown stage {name!r} (stages: {', '.join(wf.stages)})")
    # resolve_path() in stages, trials and (inherited) workers, while the workflow runs
    with scoped_environ({WORKFLOW_DIR_ENV: str(workflow_dir(project))}):
        return _run_stages(project, wf, stages, resume, say, progress, study_url)


def _run_stages(project: Project, wf: Workflow, stages: List[str], resume: bool, say: Callable[[str], None],
                progress: bool, study_url: Optional[str]) -> List[Tuple[str, str]]:
    root = workflow_dir(project)
    outcome = []
    for name in wf.order(stages or None):
        if is_done(project, wf.folder(name)) and (resume or (stages and name not in stages)):
            say(f"[workflow] {name}: done before, skipped")
            outcome.append((name, "skipped"))
            continue
        folder = root / wf.folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ".done").unlink(missing_ok=True)
        say(f"[workflow] {name}: running in {folder}")
        started = time.time()
        spec = wf.stages[name]
        if isinstance(spec, OptimisationStage):
            _optimise(project, name, spec, progress, study_url, say)
        else:
            _user_stage(project, wf, name, spec, folder, study_url)
        (folder / ".done").write_text(json.dumps({"finished": time.time(), "seconds": time.time() - started}))
        outcome.append((name, "ran"))
    return outcome


def _optimise(project: Project, name: str, spec: OptimisationStage, progress: bool, study_url: Optional[str],
              say: Callable[[str], None]) -> None:
    from hpogrid.backends import RunOptions, get_backend
    from hpogrid.study import StudyTarget

    staged = dataclasses.replace(project, configs=stage_configs(project, name, spec))
    target = StudyTarget.resolve(staged, name, study_url)
    with target.open() as store:  # a stage run before: continue its study
        before = store.counts(name) if name in {s.name for s in store.list_studies()} else {}
    again = sum(before.values()) > 0
    # none of its trials completed (the stage failed, e.g. on the objective's error): after the
    # fix, its failed trials run again rather than counting towards its trials
    rerun_failed = bool(before.get("FAILED")) and not before.get("COMPLETED")
    if rerun_failed:
        say(f"[workflow] {name}: no trial of its study completed before; its {before['FAILED']} failed trials "
            "run again")
    summary = get_backend(spec.backend).run(staged, RunOptions(
        trials=spec.trials, algorithm=spec.algorithm, seed=spec.seed, n_jobs=spec.parallel, study=name,
        study_url=study_url, progress=progress, resume=again, rerun_failed=rerun_failed))
    for note in summary.notes:
        say(f"[workflow] {name}: {note}")
    if summary.interrupted:
        raise KeyboardInterrupt
    if summary.counts.get("FAILED") and not summary.counts.get("COMPLETED"):
        # (o2tuner, through optuna, stops at the objective's error: a stage none of whose trials
        # completed is not done, and what needs it does not run on nothing)
        from hpogrid.engine.outcome import error_summary

        with target.open() as store:
            failed = store.trials(name, states="FAILED")
        error = error_summary(failed[-1].error) if failed else ""
        raise BackendError(f"workflow stage {name!r}: no trial completed ({summary.counts['FAILED']} failed)"
                           + (f"; last error: {error}" if error else ""))


def stage_configs(project: Project, name: str, spec: OptimisationStage) -> Dict[str, Any]:
    """The project's configs as the stage runs them: its own script and entry point (``file`` +
    ``objective``; a define-by-run one needs no search space), its ``config`` merged into the
    model's ``param``, its ``sampler`` as optuna's ``algorithm_param``. Checked like a config
    being written: a mistake is one line naming the stage's key."""
    from hpogrid.configs import get_kind
    from hpogrid.objective import Model, ModelKind

    field = f"workflow.{name}"
    configs = dict(project.configs)
    model = dict(project.model_config)
    if spec.file is not None:  # (its own script: the project model's param is not its)
        model = {"script": spec.file, "model": spec.entry, "param": {}}
        if not (project.scripts_dir / spec.file).is_file():
            raise ValidationError(f"{field}.file", f"{spec.file!r} is not among the project's scripts "
                                  f"({project.scripts_dir})")
        if Model.from_config(model, project.scripts_dir, imports=False).kind is ModelKind.DEFINE_BY_RUN:
            configs["search_space"] = None
        elif configs.get("search_space") is None:
            raise ValidationError(f"{field}.objective", f"{spec.entry}() in {spec.file} takes a config, and the "
                                  f"project has no search_space (o2tuner's form is def {spec.entry}(trial))")
    configs["model_config"] = {**model, "param": {**(model.get("param") or {}), **spec.config}}
    if spec.sampler is not None:
        hpo = {**project.hpo_config, "algorithm": "optuna", "algorithm_param": spec.sampler.algorithm_param()}
        try:
            configs["hpo_config"] = get_kind("hpo_config").validate(hpo)
        except ValidationError as exc:
            raise ValidationError(f"{field}.sampler", exc.message) from None
    return configs


def _user_stage(project: Project, wf: Workflow, name: str, spec: UserStage, folder: Path,
                study_url: Optional[str] = None) -> None:
    if spec.cmd is not None:
        _command(project, name, spec.cmd, folder)
        return
    from hpogrid.objective import load_module
    from hpogrid.study import StudyTarget
    from hpogrid.workflow._inspector import StudyInspector

    field = f"workflow.{name}"
    try:
        module = load_module(str(project.scripts_dir), str(spec.python))
    except ValidationError as exc:  # (its field names the model's script: this is the stage's)
        raise ValidationError(f"{field}.python", exc.message) from None
    fn = getattr(module, str(spec.entrypoint), None)
    if not callable(fn):
        raise ValidationError(f"{field}.entrypoint", f"{spec.entrypoint!r} is not a function in {spec.python}")
    arity = _arity(fn, field, spec)
    with _cwd(folder):
        args: list = [spec.config or None][:arity]
        if arity == 2:
            inspectors = []
            if spec.optimisations:
                store = StudyTarget.resolve(project, None, study_url).open()
                inspectors = [StudyInspector(store, s) for s in spec.optimisations]
            args.insert(0, inspectors)
        try:
            fn(*args)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # the user's code failed: their error, said in one line
            what = ": ".join(filter(None, (type(exc).__name__, _one_line(exc))))
            raise BackendError(f"workflow stage {name!r} failed: {what} (at {_where(exc, project.scripts_dir)})") \
                from None


def _arity(fn: Callable, field: str, spec: UserStage) -> int:
    """How the README's stage functions are called: ``f(inspectors, config)`` (one inspector per
    study in ``optimisations``; none without), ``f(config)``, or (o2tuner, a stage without
    ``optimisations`` or ``config``) ``f()``; any other signature is one line."""
    import inspect

    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return 2 if spec.optimisations else 1
    shown = f"{spec.entrypoint}{sig}"
    bare = not spec.optimisations and not spec.config
    for arity in ((2,) if spec.optimisations else (2, 1, 0) if bare else (2, 1)):
        try:
            sig.bind(*([None] * arity))
        except TypeError:
            continue
        return arity
    wanted = "(inspectors, config)" if spec.optimisations else \
        "(inspectors, config), (config) or ()" if bare else "(inspectors, config) or (config)"
    raise ValidationError(f"{field}.entrypoint", f"{shown} in {spec.python} cannot be called as "
                          f"{spec.entrypoint}{wanted}")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:299] + "…"


def _where(exc: BaseException, scripts_dir: Path) -> str:
    """file:line of the innermost frame in the project's scripts (else the innermost frame)."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    root = str(scripts_dir.resolve())
    ours = [f for f in frames if str(Path(f.filename).resolve()).startswith(root + os.sep)]
    frame = (ours or frames)[-1]
    path = Path(frame.filename)
    with contextlib.suppress(ValueError):
        path = path.resolve().relative_to(root)
    return f"{path}:{frame.lineno}"


def _command(project: Project, name: str, cmd: str, folder: Path) -> None:
    from hpogrid.objective import program

    argv = _globbed(program.build_argv(program.parse_command(cmd), {}, [], folder, project.scripts_dir), folder)
    with open(folder / "stdout.log", "w") as out, open(folder / "stderr.log", "w") as err:
        try:
            code = subprocess.run(argv, cwd=folder, stdout=out, stderr=err, stdin=subprocess.DEVNULL).returncode
        except OSError as exc:
            raise BackendError(f"workflow stage {name!r}: cannot start {argv[0]!r}: {exc.strerror}") from None
    if code != 0:
        tail = " | ".join((folder / "stderr.log").read_text(errors="replace").strip().splitlines()[-3:])
        raise BackendError(f"workflow stage {name!r} failed with exit code {code}" + (f": {tail}" if tail else ""))


def _globbed(argv: List[str], folder: Path) -> List[str]:
    """Arguments with ``*``, ``?`` or ``[`` expanded as a shell would, in ``folder`` (o2tuner's
    README prepares with ``cp -r <from_somewhere>/* .``); a pattern matching nothing stays as
    written, as in bash. The program itself is never expanded; no shell runs."""
    import glob

    out = argv[:1]
    for arg in argv[1:]:
        found = sorted(glob.glob(arg, root_dir=folder)) if any(c in arg for c in "*?[") else []
        out.extend(found or [arg])
    return out


@contextlib.contextmanager
def _cwd(folder: Path):
    old = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(old)
