"""echo-opt's hyperparameters.yml and model configuration (the shapes of its README) imported as a
project, and its ``Objective(BaseObjective)`` class run as the model (real pool workers, tiny)."""
import pytest

from tests.conftest import tree_snapshot

HYPER = """\
log:
  save_path: "{tmp}/log.txt"
slurm:
  jobs: 2
  batch:
    account: "NAML0001"
    gres: "gpu:v100:1"
    mem: "128G"
    n: 8
    t: "12:00:00"
    J: "hyper_opt"
    o: "hyper_opt.out"
    e: "hyper_opt.err"
optuna:
  name: "holodec_optimization.db"
  reload: 0
  objective: "examples/objective.py"
  metric: "val_loss"
  direction: "minimize"
  n_trials: 3
  gpu: True
  save_path: 'test'
  sampler:
    type: "TPESampler"
  parameters:
    num_dense:
      type: "int"
      settings:
        name: "num_dense"
        low: 0
        high: 10
    dropout:
      type: "float"
      settings:
        name: "dr"
        low: 0.0
        high: 0.5
    optimizer:learning_rate:
      type: "loguniform"
      settings:
        name: "lr"
        low: 0.0000001
        high: 0.01
"""
MODEL = """\
model:
  image_channels: 1
  dense_hidden_dims: [1000]
  dense_dropouts: [0.0]
optimizer:
  type: "lookahead-diffgrad"
  learning_rate: 0.000631
  weight_decay: 0.0
trainer:
  epochs: 1
"""
OBJECTIVE = """\
from hpogrid.echo import BaseObjective


def custom_updates(trial, conf):
    hyperparameters = conf["optuna"]["parameters"]
    num_dense = trial.suggest_int(**hyperparameters["num_dense"]["settings"])
    conf["model"]["dense_hidden_dims"] = [1000 for k in range(num_dense)]
    return conf


class Objective(BaseObjective):

    def __init__(self, study, config, metric="val_loss", device="cpu"):
        BaseObjective.__init__(self, study, config, metric, device)

    def train(self, trial, conf):
        conf = custom_updates(trial, conf)
        lr = conf["optimizer"]["learning_rate"]
        dr = trial.suggest_float("dr", 0.0, 0.5)
        layers = len(conf["model"]["dense_hidden_dims"])
        trial.report(layers + 0.5, 0)  # as echo-opt's pruning callbacks do, each epoch
        if trial.should_prune():
            raise RuntimeError("not pruned here")
        return {"val_loss": (dr - 0.25) ** 2 + layers + lr, "loss": 1.0, "layers": layers, "dr": dr, "lr": lr,
                "metric_attr": self.metric == "val_loss", "weight_decay": conf["optimizer"]["weight_decay"]}
"""


def _files(tmp_path, hyper=HYPER):
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "objective.py").write_text(OBJECTIVE)
    (tmp_path / "hyperparameters.yml").write_text(hyper.replace("{tmp}", str(tmp_path)))
    (tmp_path / "model.yml").write_text(MODEL)
    return tmp_path / "hyperparameters.yml", tmp_path / "model.yml"


def test_echo_opt_files_import_as_a_project_that_runs(tmp_path, run_cli):
    from hpogrid.project import load_project
    from hpogrid.study import load

    hyper, model = _files(tmp_path)
    r = run_cli("import", "echo-opt", hyper, model)
    assert r.exit_code == 0, r.output
    assert [line for line in r.output.splitlines() if line.startswith("Not mapped: ")] == [
        f"Not mapped: {line}" for line in (
            "log.save_path: not mapped (hpogrid keeps each run's log and progress in the project)",
            "optuna.reload: not mapped (running the project again continues its study; --resume after an "
            "interruption)",
            "optuna.save_path: not mapped (trials are kept in the project's study and trial folders)",
            "optuna.gpu: not mapped (ask for GPUs with hpo_config resource or slurm gres)",
            "slurm.batch.J: not mapped (hpogrid names each trial's job and its output files)",
            "slurm.batch.o: not mapped (hpogrid names each trial's job and its output files)",
            "slurm.batch.e: not mapped (hpogrid names each trial's job and its output files)")]
    assert "Created project 'holodec_optimization'" in r.output
    proj = load_project("holodec_optimization")
    assert proj.search_space == {
        "num_dense": {"method": "uniformint", "dimension": {"low": 0, "high": 10}},
        "dropout": {"method": "uniform", "dimension": {"low": 0.0, "high": 0.5}},
        "optimizer:learning_rate": {"method": "loguniform", "dimension": {"low": 1e-7, "high": 0.01}}}
    hpo = proj.hpo_config
    assert (hpo["metric"], hpo["mode"], hpo["trials"], hpo["algorithm"], hpo["algorithm_param"]) == \
        ("val_loss", "min", 3, "optuna", {"sampler": "tpe"})
    slurm = proj.slurm_config
    assert (slurm["workers"], slurm["account"], slurm["gres"], slurm["mem"], slurm["time"], slurm["sbatch_args"]) \
        == (2, "NAML0001", "gpu:v100:1", "128G", "12:00:00", ["-n8"])
    assert proj.model_config["model"] == "Objective" and proj.model_config["param"]["trainer"] == {"epochs": 1}

    r = run_cli("local_run", "holodec_optimization")
    assert r.exit_code == 0, r.output
    trials = load("holodec_optimization").trials
    assert len(trials) == 3 and all(t.uid.startswith("pool-") for t in trials)
    for t in trials:  # the searched values reached train(): by settings name, and nested in conf
        m = t.metrics
        assert m["layers"] == t.params["num_dense"] and m["dr"] == t.params["dropout"]
        assert m["lr"] == t.params["optimizer:learning_rate"] and m["weight_decay"] == 0.0 and m["metric_attr"]
        assert t.value == pytest.approx((m["dr"] - 0.25) ** 2 + m["layers"] + m["lr"])
        assert t.intermediate[0]["val_loss"] == m["layers"] + 0.5  # trial.report reached the study


@pytest.mark.parametrize("change, message", [
    (("optuna:", "optuna:\n  n_trails: 3"), "Error: optuna.n_trails: unknown key 'n_trails'; allowed: name, "
     "reload, objective, metric, direction, n_trials, gpu, save_path, sampler, parameters"),
    (("log:", "logs: {}\nlog:"), "Error: hyperparameters.logs: unknown key 'logs'; allowed: log, slurm, pbs, optuna"),
    (("  jobs: 2", "  jobs: 2\n  nodes: 3"), "Error: slurm.nodes: unknown key 'nodes'; allowed: jobs, kernel, batch"),
    (('type: "loguniform"', 'type: "lognormal"'), "Error: optuna.parameters.optimizer:learning_rate.type: is "
     "'lognormal'; choose one of: categorical, discrete_uniform, float, int, loguniform, uniform"),
    (('name: "dr"', 'name: "dr"\n        q: 0.1'), "Error: optuna.parameters.dropout.settings.q: unknown key 'q'; "
     "allowed: name, low, high, step, log"),
    (("objective.py", "missing.py"), "Error: optuna.objective: 'examples/missing.py' not found next to"),
    (('direction: "minimize"', 'direction: "down"'), "Error: optuna.direction: is 'down'; choose minimize or "
     "maximize"),
    (('type: "TPESampler"', 'type: "TPESampler"\n    n_startup: 3'), "Error: hpo_config.algorithm_param: key "
     "'n_startup' is unknown for 'optuna sampler tpe'"),
    (('mem: "128G"', 'mem: "lots"'), "Error: slurm_config.mem: mem must be a number"),
])
def test_unknown_keys_and_bad_values_are_one_line_and_write_nothing(tmp_path, run_cli, change, message):
    from hpogrid import paths

    hyper, model = _files(tmp_path, HYPER.replace(*change, 1))
    before = tree_snapshot(paths.home())
    r = run_cli("import", "echo-opt", hyper, model)
    assert r.exit_code == 1
    assert r.output.strip().splitlines()[-1].startswith(message), r.output
    assert len([line for line in r.output.splitlines() if line.startswith("Error")]) == 1
    assert tree_snapshot(paths.home()) == before


def test_a_failing_project_step_removes_the_configs_it_wrote(tmp_path, run_cli):
    """A config of that name with other content: nothing written; a project of that name: the
    configs written before it failed are removed again."""
    from hpogrid import paths
    from hpogrid.configs import NamedStore

    hyper, model = _files(tmp_path)
    NamedStore("hpo_config").create("holodec_optimization", {"metric": "acc"})
    before = tree_snapshot(paths.home())
    r = run_cli("import", "echo-opt", hyper, model)
    assert r.exit_code == 1 and "hpo_config 'holodec_optimization' exists with other content" in r.output
    assert tree_snapshot(paths.home()) == before
    NamedStore("hpo_config").remove("holodec_optimization")
    assert run_cli("import", "echo-opt", hyper, model, "--name", "p").exit_code == 0
    before = tree_snapshot(paths.home())
    r = run_cli("import", "echo-opt", hyper, model, "--name", "p2", "--name", "p")
    assert r.exit_code == 1 and "project 'p' already exists" in r.output
    assert tree_snapshot(paths.home()) == before


def test_without_a_model_configuration_a_nested_key_is_searched_under_its_settings_name(tmp_path):
    from hpogrid.project._echo_opt import echo_opt_configs
    from hpogrid.yamltext import loads

    hyper, _ = _files(tmp_path, HYPER.replace('type: "TPESampler"', 'type: "GridSampler"').replace(
        'log:\n  save_path: "{tmp}/log.txt"', "log: True"))
    configs, folder, notes = echo_opt_configs(loads(hyper.read_text(), "h"), None, hyper)
    assert notes[0] == "log: not mapped (hpogrid keeps each run's log and progress in the project)"
    assert list(configs["search_space"]) == ["num_dense", "dropout", "lr"] and folder == tmp_path / "examples"
    assert "optuna.parameters.optimizer:learning_rate: the model configuration has no 'optimizer:learning_rate'; " \
        "searched as 'lr' (train() gets it from trial.suggest_*)" in notes
    assert "optuna.sampler.type: 'GridSampler' not mapped (hpogrid runs optuna's TPESampler, RandomSampler, " \
        "CmaEsSampler, NSGAIISampler, GPSampler, QMCSampler); searched with TPESampler" in notes
    assert "algorithm_param" not in configs["hpo_config"]


def test_an_objective_still_importing_echo_opt_is_told_which_import_to_change(tmp_path):
    from hpogrid.project._echo_opt import echo_opt_configs
    from hpogrid.yamltext import loads

    hyper, _ = _files(tmp_path)
    objective = tmp_path / "examples" / "objective.py"
    objective.write_text(OBJECTIVE.replace("from hpogrid.echo import BaseObjective",
                                           "from aimlutils.hyper_opt.base_objective import *"))
    notes = echo_opt_configs(loads(hyper.read_text(), "h"), {}, hyper)[2]
    assert "optuna.objective: objective.py imports aimlutils.hyper_opt.base_objective (echo-opt's own package): " \
        "import BaseObjective from hpogrid.echo instead" in notes


def test_several_objectives_map_to_lists_of_metrics_and_modes(tmp_path):
    from hpogrid.configs import get_kind
    from hpogrid.project._echo_opt import echo_opt_configs
    from hpogrid.yamltext import loads

    hyper, _ = _files(tmp_path, HYPER.replace('metric: "val_loss"', 'metric: ["val_loss", "val_acc"]').replace(
        'direction: "minimize"', 'direction: ["minimize", "maximize"]').replace('type: "TPESampler"',
                                                                                'type: "NSGAIISampler"'))
    hpo = get_kind("hpo_config").validate(echo_opt_configs(loads(hyper.read_text(), "h"), {}, hyper)[0]["hpo_config"])
    assert (hpo["metric"], hpo["mode"], hpo["algorithm_param"]) == (["val_loss", "val_acc"], ["min", "max"],
                                                                    {"sampler": "nsga2"})
