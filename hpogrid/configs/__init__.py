"""Named configs: the four config types and the store that keeps them.

Cheap to import: pydantic and the search-space grammar load only when a config is validated.
"""
from hpogrid.configs._kinds import KINDS, ConfigKind, get_kind, summarize
from hpogrid.configs._store import NamedStore, parse_json_option

__all__ = ["KINDS", "ConfigKind", "NamedStore", "get_kind", "parse_json_option", "summarize"]
