"""Projects: configs snapshot + scripts + content hash, in one folder of the store."""
from hpogrid.project._project import (
    CONFIG_TYPES,
    Project,
    config_file,
    create_project,
    list_projects,
    load_project,
    recreate_project,
    remove_project,
    require_project,
    set_input_dataset,
    update_project,
)
from hpogrid.project._bundle import create_bundle, scripts_changed
from hpogrid.project._echo_opt import import_echo_opt
from hpogrid.project._queue import enqueue, enqueued, read_points, take_enqueued
from hpogrid.project._scripts import SANDBOX_LIMIT

__all__ = ["CONFIG_TYPES", "Project", "SANDBOX_LIMIT", "config_file", "create_bundle", "create_project", "enqueue", "enqueued", "import_echo_opt",
           "list_projects", "read_points", "take_enqueued",
           "load_project", "recreate_project", "remove_project", "require_project", "scripts_changed", "set_input_dataset",
           "update_project"]
