"""PanDA queues from ATLAS CRIC, which of them have GPUs, and a day-long cache of the list.

CRIC's pandaqueue query (``?json``) answers one JSON object: queue name -> attributes
(``atlas_site``/``rc_site``, ``cloud``, ``country``, ``state``, ``status``, ``type``,
``resource_type``, ``catchall``, ...). A queue counts as GPU-capable when any of these hold:

- its ``catchall`` has an item starting with ``gpu`` (what PanDA's ``SiteSpec.isGPU()`` tests),
- its ``resource_type`` mentions ``gpu``,
- its name mentions ``GPU`` (hpogrid 1.3.3's rule: ``ANALY_MANC_GPU_TEST``, ...).

Only queues that take user analysis jobs are listed (``type`` analysis or unified, ``state``
ACTIVE; a missing field does not exclude), since those are where ``hpogrid run`` submits.

The list is cached in ``$HPOGRID_HOME/cache/sites.json`` with its fetch time and URL, and is
used while younger than :data:`CACHE_MAX_AGE` and fetched from the same URL. When CRIC cannot
be reached the cached list is used whatever its age; without one, a small list bundled with
hpogrid. :class:`SiteList.note` then says which, for the CLI to show.
"""
import fnmatch
import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from hpogrid import paths
from hpogrid.errors import GridError, ValidationError
from hpogrid.fileio import dump_json, write_atomic

DEFAULT_CRIC_URL = "https://atlas-cric.cern.ch/api/atlas/pandaqueue/query/?json"
CRIC_URL_ENV = "HPOGRID_CRIC_URL"
#: a cached list younger than this is used without asking CRIC
CACHE_MAX_AGE = timedelta(days=1)
#: seconds to wait for CRIC before falling back to the cache
FETCH_TIMEOUT_S = 10.0
#: queue types that accept user analysis jobs (prun)
ANALYSIS_TYPES = ("analysis", "unified")

SOURCES = ("cric", "cache", "bundled")
_GPU_ITEM = re.compile(r"^gpu", re.IGNORECASE)


@dataclass(frozen=True)
class Queue:
    """One PanDA queue as hpogrid shows it; ``gpu_info`` says why it counts as GPU ('' if not)."""

    name: str
    site: str = ""
    cloud: str = ""
    country: str = ""
    state: str = ""
    status: str = ""
    type: str = ""
    gpu_info: str = ""

    @property
    def gpu(self) -> bool:
        return bool(self.gpu_info)

    def takes_analysis_jobs(self) -> bool:
        return (not self.type or self.type.lower() in ANALYSIS_TYPES) and \
            (not self.state or self.state.upper() == "ACTIVE")

    def to_dict(self) -> Dict[str, Any]:
        return {**asdict(self), "gpu": self.gpu}

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Queue":
        return cls(**{k: str(data.get(k) or "") for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class SiteList:
    """Queues and where they came from: ``source`` is one of :data:`SOURCES`."""

    queues: Tuple[Queue, ...]
    source: str
    url: Optional[str]
    fetched_at: Optional[datetime]
    note: Optional[str] = None

    def select(self, gpu_only: bool = True, name: Optional[str] = None) -> List[Queue]:
        """Analysis queues, GPU ones only unless ``gpu_only`` is false, matching ``name`` (a glob)."""
        chosen = [q for q in self.queues if q.takes_analysis_jobs() and (q.gpu or not gpu_only)]
        if name:
            chosen = [q for q in chosen if fnmatch.fnmatch(q.name.upper(), name.upper())]
        return sorted(chosen, key=lambda q: q.name)


def cric_url(url: Optional[str] = None) -> str:
    """The URL asked: ``url``, else ``$HPOGRID_CRIC_URL``, else CRIC's pandaqueue query."""
    from hpogrid.settings import Settings

    url = url or Settings.from_env().cric_url or DEFAULT_CRIC_URL
    if not re.match(r"^https?://[^/\s]+", url):
        raise ValidationError("url", f"{url!r} is not an http:// or https:// URL")
    return url


def cache_path() -> Path:
    return paths.home() / "cache" / "sites.json"


def gpu_evidence(name: str, attrs: Dict[str, Any]) -> str:
    """Why queue ``name`` counts as GPU-capable ('' when nothing says so)."""
    reasons = []
    items = [i.strip() for i in str(attrs.get("catchall") or "").split(",")]
    reasons += [f"catchall {i}" for i in items if _GPU_ITEM.match(i)]
    resource_type = str(attrs.get("resource_type") or "")
    if "gpu" in resource_type.lower():
        reasons.append(f"resource_type {resource_type}")
    if any("GPU" in str(n).upper() for n in (name, attrs.get("panda_resource") or "")):
        reasons.append("name")
    return "; ".join(reasons)


def parse_cric(doc: Any) -> List[Queue]:
    """Queues of a CRIC pandaqueue answer (an object: queue name -> attributes)."""
    if not isinstance(doc, dict) or not all(isinstance(v, dict) for v in doc.values()):
        raise GridError("CRIC answered something that is not a pandaqueue list "
                        "(expected a JSON object of queue name -> attributes)")
    queues = []
    for name, attrs in doc.items():
        site = attrs.get("atlas_site") or attrs.get("rc_site") or attrs.get("site") or ""
        queues.append(Queue(name=str(name), site=str(site), cloud=str(attrs.get("cloud") or ""),
                            country=str(attrs.get("country") or ""), state=str(attrs.get("state") or ""),
                            status=str(attrs.get("status") or ""), type=str(attrs.get("type") or ""),
                            gpu_info=gpu_evidence(str(name), attrs)))
    return queues


def fetch(url: str, timeout: float = FETCH_TIMEOUT_S) -> List[Queue]:
    """Ask CRIC; raises :class:`GridError` with a one-line reason when that fails."""
    import urllib.error
    import urllib.request

    from hpogrid import __version__

    request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                   "User-Agent": f"hpogrid/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        raise GridError(f"CRIC answered HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise GridError(f"cannot reach CRIC: {exc.reason}") from None
    except (OSError, ValueError) as exc:  # timeouts, resets, malformed URLs
        raise GridError(f"cannot reach CRIC: {type(exc).__name__}: {exc}") from None
    try:
        doc = json.loads(body)
    except ValueError:
        raise GridError("CRIC answered something that is not JSON") from None
    return parse_cric(doc)


def _timestamp(text: Any) -> Optional[datetime]:
    try:
        stamp = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


def _read_list(text: str, source: str) -> Optional[SiteList]:
    """A cache or bundled file as a :class:`SiteList`; None if it is unreadable."""
    try:
        doc = json.loads(text)
        queues = tuple(Queue.from_dict(q) for q in doc["queues"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    fetched_at = _timestamp(doc.get("fetched_at")) if doc.get("fetched_at") else None
    return SiteList(queues, source, doc.get("url"), fetched_at)


def read_cache() -> Optional[SiteList]:
    try:
        text = cache_path().read_text(encoding="utf-8")
    except OSError:
        return None
    cached = _read_list(text, "cache")
    return cached if cached is not None and cached.fetched_at is not None else None


def write_cache(queues: Sequence[Queue], url: str, fetched_at: datetime) -> None:
    doc = {"url": url, "fetched_at": fetched_at.isoformat(timespec="seconds"),
           "queues": [q.to_dict() for q in queues]}
    write_atomic(cache_path(), dump_json(doc))


def bundled() -> SiteList:
    """The small list shipped with hpogrid (grid/data/sites.json), for when nothing else works."""
    text = resources.files("hpogrid.grid").joinpath("data", "sites.json").read_text(encoding="utf-8")
    return _read_list(text, "bundled")


def describe_age(age: timedelta) -> str:
    seconds = max(0, int(age.total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def load_sites(url: Optional[str] = None, refresh: bool = False, now: Optional[datetime] = None,
               timeout: float = FETCH_TIMEOUT_S) -> SiteList:
    """The queue list: the cache while fresh, else CRIC (cached), else the stale cache or the bundled list.

    ``refresh`` asks CRIC even when the cache is fresh. Raises only :class:`ValidationError`
    for a URL that is not http(s); an unreachable CRIC is a ``note``, not an error.
    """
    url = cric_url(url)
    now = now or datetime.now(timezone.utc)
    cached = read_cache()
    if cached is not None and not refresh and cached.url == url and now - cached.fetched_at < CACHE_MAX_AGE:
        return cached
    try:
        queues = fetch(url, timeout)
    except GridError as exc:
        reason = str(exc)
    else:
        try:
            write_cache(queues, url, now)
        except OSError as exc:  # a read-only store still gets its answer
            return SiteList(tuple(queues), "cric", url, now, f"could not cache the list in {cache_path()}: {exc}")
        return SiteList(tuple(queues), "cric", url, now)
    if cached is not None:
        origin = "" if cached.url == url else f" from {cached.url}"
        note = (f"{reason} ({url}); showing the cached list fetched "
                f"{describe_age(now - cached.fetched_at)}{origin}")
        return SiteList(cached.queues, "cache", cached.url, cached.fetched_at, note)
    fallback = bundled()
    note = (f"{reason} ({url}) and nothing is cached; showing the list bundled with hpogrid "
            "(queue status unknown; try again with --refresh when online)")
    return SiteList(fallback.queues, "bundled", None, None, note)
