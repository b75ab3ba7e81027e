"""Where hpogrid keeps its files.

Everything lives under the store root ``$HPOGRID_HOME`` (default ``~/.hpogrid``), never in
the installed package. The layout matches hpogrid 1.3.3's user-data folder, so an old store
can be used by pointing ``HPOGRID_HOME`` at it::

    $HPOGRID_HOME/hpo/NAME.json           hpo_config
    $HPOGRID_HOME/grid/NAME.json          grid_config
    $HPOGRID_HOME/model/NAME.json         model_config
    $HPOGRID_HOME/search_space/NAME.json  search_space
    $HPOGRID_HOME/slurm/NAME.json         slurm_config (new in hpogrid 2)
    $HPOGRID_HOME/projects/NAME/          one project (config/config.json, scripts/, study.db)
"""
from pathlib import Path

from hpogrid.names import check_name

#: config type (as typed on the command line) -> sub-folder of the store root
CONFIG_DIRS = {
    "hpo_config": "hpo",
    "grid_config": "grid",
    "model_config": "model",
    "search_space": "search_space",
    "slurm_config": "slurm",
}


def home() -> Path:
    """The store root: ``$HPOGRID_HOME`` or ``~/.hpogrid``."""
    from hpogrid.settings import Settings

    return Settings.from_env().home


def config_dir(config_type: str) -> Path:
    return home() / CONFIG_DIRS[config_type]


def projects_dir() -> Path:
    return home() / "projects"


def project_dir(name: str) -> Path:
    return projects_dir() / check_name(name, "project")


def study_db(project: str) -> Path:
    """Default SQLite study store of a project."""
    return project_dir(project) / "study.db"
