"""``hpogrid <config_type> <create|recreate|update|remove|list|show>`` for the four config types.

Options are generated from the pydantic models, so names, defaults, help and choices have one
source. ``list``/``show``/``remove`` never import pydantic, which keeps them fast.
"""
import json
from typing import Any, Callable, Dict, List, Optional, Union, get_args, get_origin

import click

from hpogrid.cli._base import confirm_if_interactive, echo_json, echo_table
from hpogrid.cli._types import COUNT_MAX, count
from hpogrid.configs import NamedStore, get_kind, parse_json_option, summarize

ACTIONS = ("create", "recreate", "update", "remove", "list", "show")


class ConfigGroup(click.Group):
    """Builds each action on first use, so ``list`` does not pay for option generation."""

    def __init__(self, kind_name: str, **kwargs):
        super().__init__(name=kind_name, **kwargs)
        self.kind_name = kind_name

    def list_commands(self, ctx):
        return list(ACTIONS)

    def get_command(self, ctx, name):
        if name not in self.commands and name in ACTIONS:
            self.add_command(_BUILDERS[name](self.kind_name), name)
        return super().get_command(ctx, name)


# -- option generation ---------------------------------------------------------------------
def _shape(annotation: Any) -> str:
    """How a model field is typed on the command line: json, list, flag, int or str."""
    types = set(get_args(annotation)) if get_origin(annotation) is Union else {annotation}
    types.discard(type(None))
    if any(t is dict or get_origin(t) is dict for t in types):
        return "json"
    if any(get_origin(t) is list and any(a is dict or get_origin(a) is dict for a in get_args(t)) for t in types):
        return "json"  # a list of objects (hpo_config failure_rules)
    if any(get_origin(t) is list for t in types):
        return "list"
    if bool in types:
        return "flag"
    if int in types:
        return "int"
    return "str"


def _model_options(kind_name: str, show_defaults: bool) -> List[click.Option]:
    model = get_kind(kind_name).model
    options = []
    for name, field in model.model_fields.items():
        shape = _shape(field.annotation)
        extra = field.json_schema_extra or {}
        help_text = field.description or ""
        default = None if field.is_required() else field.get_default(call_default_factory=True)
        if show_defaults and default is not None:
            shown = json.dumps(default) if isinstance(default, (dict, list)) else default
            help_text += f"  [default: {shown}]"
        decls = [f"--{name}"] + ([f"--{name.replace('_', '-')}"] if "_" in name else [])
        if shape == "flag":
            decls = [f"{d}/--no-{d[2:]}" for d in decls[:1]]
        kwargs: Dict[str, Any] = {"default": None, "help": help_text}
        if "choices" in extra:
            kwargs["type"] = click.Choice(extra["choices"])
        elif shape == "int":  # the model's bounds, and never unbounded
            low = next((m.ge for m in field.metadata if getattr(m, "ge", None) is not None), 0)
            high = next((m.le for m in field.metadata if getattr(m, "le", None) is not None), COUNT_MAX)
            kwargs["type"] = count(low, high)
        elif shape == "json":
            kwargs["metavar"] = "JSON"
        elif shape == "list":
            kwargs["metavar"] = "A[,B...]"
        options.append(click.Option(decls + [name], **kwargs))
        if shape == "json":  # the same value from a JSON or YAML file (a user's own config file)
            options.append(click.Option(
                [f"--{name}_file", f"--{name.replace('_', '-')}-file", f"{name}{_FILE}"],
                type=click.Path(dir_okay=False), metavar="PATH", default=None,
                help=f"Read {name} from this JSON or YAML file (.yaml/.yml), used unchanged; instead of --{name}."))
    options.append(click.Option(["--file", "file"], type=click.Path(dir_okay=False), metavar="PATH", default=None,
                                help=f"Read the {kind_name} from this JSON or YAML file (.yaml/.yml); options "
                                     "given as well override its values."))
    return options


#: suffix of the destination of a JSON option's --NAME-file twin
_FILE = "__from_file"


def _collect(kind_name: str, values: Dict[str, Any]) -> Dict[str, Any]:
    """Turn the given (non-None) option values into config values."""
    from hpogrid.datafile import read_mapping

    model = get_kind(kind_name).model
    data = {}
    if values.get("file") is not None:
        data.update(read_mapping(values["file"], kind_name))
    for key, path in values.items():
        if not key.endswith(_FILE) or path is None:
            continue
        name = key[: -len(_FILE)]
        if values.get(name) is not None:
            raise click.UsageError(f"give --{name} or --{name.replace('_', '-')}-file, not both")
        data[name] = read_mapping(path, f"{kind_name}.{name}")
    for name, value in values.items():
        if value is None or name not in model.model_fields:
            continue
        shape = _shape(model.model_fields[name].annotation)
        if shape == "json":
            value = parse_json_option(value, f"{kind_name}.{name}")
        elif shape == "list":
            from hpogrid.objectives import split_list

            items = split_list(value, f"{kind_name}.{name}")  # "a,,b": one line, never a silent drop
            annotation = model.model_fields[name].annotation
            one = get_origin(annotation) is Union and str in get_args(annotation)  # (str or a list of str)
            value = items[0] if len(items) == 1 and one else items
        data[name] = value
    return data


def _space_input(kind_name: str, text: Optional[str], file: Optional[str], required: bool,
                 partial: bool = False) -> Optional[Any]:
    """The search space given; ``partial`` (update): only parsed here, since a ``when`` may name
    a parameter already stored (the store checks the merged space)."""
    if text is not None and file is not None:
        raise click.UsageError("give the search space either as an argument or with --file, not both")
    from hpogrid.space import SearchSpace

    if file is not None:
        from hpogrid.datafile import read_file

        data = read_file(file, "search_space")
    elif text is None:
        if required:
            raise click.UsageError("give the search space as a JSON argument or with --file PATH (JSON or YAML)")
        return None
    elif not partial:
        return SearchSpace.from_json(text).to_dict()
    else:
        from hpogrid.jsontext import loads

        data = loads(text, "search_space")
    if partial and isinstance(data, dict):
        return dict(SearchSpace.unwrap(data))
    return SearchSpace.from_dict(data).to_dict()


def _report(action: str, kind_name: str, name: str, config: Dict[str, Any]) -> None:
    click.echo(f"{action} {kind_name} {name!r}:")
    echo_json(config)


# -- actions -------------------------------------------------------------------------------
def _writer(kind_name: str, action: str) -> click.Command:
    """create / recreate / update share one shape: NAME plus the type's options."""
    is_space = kind_name == "search_space"
    params: List[click.Parameter] = [click.Argument(["name"])]
    if is_space:
        params += [click.Argument(["space"], required=False),
                   click.Option(["--file", "file"], type=click.Path(dir_okay=False),
                                help="Read the search space from this JSON or YAML (.yaml/.yml) file.")]
    else:
        params += _model_options(kind_name, show_defaults=action != "update")

    def callback(name: str, **values: Any) -> None:
        store = NamedStore(kind_name)
        if is_space:
            data = _space_input(kind_name, values.get("space"), values.get("file"), required=True,
                                partial=action == "update")
        else:
            data = _collect(kind_name, values)
            if action != "update":
                get_kind(kind_name).check_new(data)  # (what only a config written anew must meet)
        if action == "create":
            _report("Created", kind_name, name, store.create(name, data))
        elif action == "recreate":
            _report("Recreated", kind_name, name, store.recreate(name, data))
        else:
            if not data:
                raise click.UsageError("nothing to update: give at least one option")
            if not is_space and {"scheduler", "stop"} & set(data):  # the pair is written anew
                get_kind(kind_name).check_new({**store.load(name), **data})
            _report("Updated", kind_name, name, store.update(name, data))

    doc = {
        "create": "Create a new {t} NAME (refuses an existing name).",
        "recreate": "Overwrite {t} NAME with the given options (unset options take defaults).",
        "update": "Change only the given options of {t} NAME.",
    }[action].format(t=kind_name)
    if is_space:
        doc += ("\n\nSPACE is JSON: '{\"NAME\": {\"method\": \"uniform\", \"dimension\": "
                "{\"low\": 0, \"high\": 1}}, ...}'. Methods: categorical, uniform, uniformint, "
                "quniform, loguniform, qloguniform, normal, qnormal, lognormal, qlognormal, fixed. "
                "A parameter with \"when\": {\"PARENT\": [VALUES]} exists only while each PARENT "
                "(categorical, fixed, uniformint or a q-method) takes one of VALUES; the model "
                "then receives it, and otherwise does not.")
        if action == "update":
            doc += " Parameters given replace those of the same name; others are kept."
    return click.Command(action, params=params, callback=callback, help=doc)


def _remove(kind_name: str) -> click.Command:
    @click.command("remove", help=f"Delete {kind_name} NAME (asks first only at a terminal).")
    @click.argument("name")
    @click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
    def remove(name: str, yes: bool) -> None:
        store = NamedStore(kind_name)
        store.path(name)  # validates the name before asking anything
        confirm_if_interactive(f"Remove {kind_name} {name!r}?", yes)
        store.remove(name)
        click.echo(f"Removed {kind_name} {name!r}.")
    return remove


def _list(kind_name: str) -> click.Command:
    @click.command("list", help=f"List the stored {kind_name} configs.")
    def list_() -> None:
        kind = get_kind(kind_name)
        rows = [[name, *summarize(kind, raw).values()] for name, raw in NamedStore(kind).items()]
        if not rows:
            click.echo(f"No {kind_name} yet; create one with 'hpogrid {kind_name} create NAME'.")
            return
        echo_table(rows, ["name", *kind.columns()])
    return list_


def _show(kind_name: str) -> click.Command:
    @click.command("show", help=f"Print {kind_name} NAME as JSON.")
    @click.argument("name")
    def show(name: str) -> None:
        echo_json(NamedStore(kind_name).load(name))
    return show


_BUILDERS: Dict[str, Callable[[str], click.Command]] = {
    "create": lambda k: _writer(k, "create"),
    "recreate": lambda k: _writer(k, "recreate"),
    "update": lambda k: _writer(k, "update"),
    "remove": _remove,
    "list": _list,
    "show": _show,
}

_HELP = {
    "hpo_config": "Manage HPO configs: algorithm, metric, mode, scheduler, trials, ...",
    "grid_config": "Manage grid configs: site, container, retry, inDS, outDS.",
    "model_config": "Manage model configs: the training script, the model in it, its params.",
    "search_space": "Manage search spaces: hyperparameters and how to sample them.",
    "slurm_config": "Manage Slurm configs: partition, gres, cpus, mem, time, workers, ...",
}


def _group(kind_name: str) -> ConfigGroup:
    return ConfigGroup(kind_name, help=_HELP[kind_name])


hpo_config = _group("hpo_config")
grid_config = _group("grid_config")
model_config = _group("model_config")
search_space = _group("search_space")
slurm_config = _group("slurm_config")
