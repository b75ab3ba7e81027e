"""Fixtures of the hostile-input tests: a scripts folder, the three configs, a project."""
import json

import pytest

from tests.hostile._helpers import SPACE


@pytest.fixture
def scripts(tmp_path):
    folder = tmp_path / "scripts"
    folder.mkdir()
    (folder / "m.py").write_text("def model(config):\n    return {'loss': config['x'] ** 2}\n")
    return folder


@pytest.fixture
def configs(run_cli):
    assert run_cli("model_config", "create", "m", "--script", "m.py", "--model", "model").exit_code == 0
    assert run_cli("search_space", "create", "sp", json.dumps(SPACE)).exit_code == 0
    assert run_cli("hpo_config", "create", "h", "--metric", "loss", "--mode", "min", "--trials", "2",
                   "--algorithm", "random").exit_code == 0


@pytest.fixture
def project(run_cli, scripts, configs):
    r = run_cli("project", "create", "p", "--scripts_path", scripts, "--model_config", "m",
                "--search_space", "sp", "--hpo_config", "h")
    assert r.exit_code == 0, r.output
