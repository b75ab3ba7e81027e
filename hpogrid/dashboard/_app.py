"""The dashboard's web application (Flask) and its server (werkzeug, Flask's own).

Routes: ``/`` the page, ``/static/plotly.min.js`` plotly.js from the installed plotly package
(no CDN: the page works offline), ``/api/studies`` the names of the store's studies (the page's
study picker), ``/api/snapshot`` a study as JSON (read only; ``?study=NAME`` picks one of the
store's studies, ``&compare=B,C`` adds those studies side by side, as ``report --study`` does),
``&since=CURSOR&base=FINGERPRINT`` only the trials written since the page's last poll (the
full snapshot when ``base`` is not the latest), ``&quick=1`` a partial first page when the full
one takes long (:mod:`hpogrid.dashboard._updates`), ``/api/artifact?study=S&trial=UID&name=N`` a file a trial kept (a download; only a regular file
inside the project's folder), and
``/api/sync`` (POST) the grid sync of ``hpogrid report``. The sync is the one thing that
writes, and only when the user presses the button: it needs the ``X-Hpogrid: sync`` header,
which a page of another site cannot send without the browser asking first (CORS), so no other
site can trigger it. Requests naming a host that is neither this machine (by its loopback
names, its host name, the ``--host`` given) nor an IP address are refused: a DNS-rebinding page
(a name under an attacker's control pointed at this machine) cannot read or sync the study,
whatever address the dashboard listens on. The page has no inline script (the CSP forbids one).
"""
from __future__ import annotations

import contextlib
import io
import json
import ipaddress
import socket
import threading
from functools import lru_cache
from typing import Any, Callable, Dict, FrozenSet, Optional, Tuple

from hpogrid.dashboard._page import SCRIPT, page
from hpogrid.dashboard._snapshot import Snapshots, Source, comparison, open_artifact, studies

#: studies whose snapshots are kept (picked in the page), the dashboard's own included
MAX_PICKED = 16
#: hosts the dashboard binds to without serving anyone else
LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: plotly's WebGL parallel coordinates (regl) compile shaders with Function(): 'unsafe-eval'
_CSP = ("default-src 'none'; script-src 'self' 'unsafe-eval'; style-src 'unsafe-inline'; "
        "img-src data: blob:; font-src data:; connect-src 'self'; worker-src blob:")


def trusted_names(host: str) -> FrozenSet[str]:
    """Host names requests may name: loopback, this machine's names and ``host`` itself (IP
    addresses are always accepted: a rebinding attack needs a name)."""
    names = {"localhost", host.lower()}
    if host not in LOOPBACK:
        names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
    return frozenset(names)


def _host_name(header: str) -> str:
    """The name in a Host header, without port or IPv6 brackets."""
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def create_app(source: Source, interval_s: float = 2.0, host: str = "127.0.0.1",
               sync: Optional[Callable[[Source], str]] = None):
    """The Flask app following ``source``; ``sync`` (for tests) replaces the PanDA sync."""
    from flask import Flask, Response, request

    from hpogrid.errors import HpogridError

    from dataclasses import replace

    from hpogrid.report import COMPARE_COLOURS

    app = Flask(__name__)
    trusted = trusted_names(host)
    snapshots = Snapshots(source)
    default = source.study or source.project
    picked: Dict[str, Snapshots] = {default: snapshots}  # study name -> its snapshots, newest last
    compared: Dict[Tuple[str, ...], Dict[str, Any]] = {}
    picking = threading.Lock()  # the two caches above, between request threads
    do_sync = sync or _grid_sync
    syncing = threading.Lock()  # one sync at a time (two tabs, two clicks)

    @app.before_request
    def _known_host() -> Optional[Response]:
        name = _host_name(request.headers.get("Host", "")).lower()
        if name in trusted or _is_ip(name):
            return None
        return Response("unknown host name", status=400, mimetype="text/plain")

    def _json(data: Any, status: int = 200) -> Response:
        text = json.dumps(data, allow_nan=False, default=str, separators=(",", ":"))
        return Response(text, status=status, mimetype="application/json")

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers["Content-Security-Policy"] = _CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.get("/")
    def index() -> Response:
        return Response(page(source.project, int(interval_s * 1000), default), mimetype="text/html")

    @app.get("/static/plotly.min.js")
    def plotly_js() -> Response:
        return Response(_plotly_js(), mimetype="application/javascript")

    @app.get("/static/dashboard.js")
    def dashboard_js() -> Response:
        return Response(SCRIPT, mimetype="application/javascript")

    def _of(name: str) -> Snapshots:
        with picking:
            if name not in picked:
                while len(picked) >= MAX_PICKED:
                    picked.pop(next(n for n in picked if n != default))
                picked[name] = Snapshots(replace(source, study=name))
            return picked[name]

    @app.get("/api/artifact")
    def artifact() -> Response:
        from flask import send_file

        name = request.args.get("study") or default
        art = request.args.get("name", "")
        try:
            if name != default and name not in studies(source):
                return _json({"error": f"no study {name!r} in the store"}, 404)
            fh = open_artifact(replace(source, study=name), request.args.get("trial", ""), art)
        except HpogridError as exc:
            return _json({"error": str(exc)}, 404)
        return send_file(fh, mimetype="application/octet-stream", as_attachment=True, download_name=art)

    @app.get("/api/studies")
    def study_names() -> Response:
        try:
            return _json({"studies": studies(source), "default": default})
        except HpogridError as exc:
            return _json({"error": str(exc)}, 500)

    @app.get("/api/snapshot")
    def snapshot() -> Response:
        name = request.args.get("study") or default
        others = [n for n in dict.fromkeys(request.args.get("compare", "").split(",")) if n and n != name]
        try:
            if name != default or others:  # only studies the store holds: a name is never a path
                known = set(studies(source))
                unknown = [n for n in [name, *others] if n not in known]
                if unknown:
                    return _json({"error": f"no study {unknown[0]!r} in the store"}, 404)
                if len(others) >= len(COMPARE_COLOURS):
                    return _json({"error": f"compare at most {len(COMPARE_COLOURS)} studies"}, 400)
            if not others and request.args.get("since"):  # the page's polls: what changed since its cursor
                return _json(_of(name).update(request.args["since"], request.args.get("base", "")))
            if not others and request.args.get("quick"):  # the page's first request: partial if the full is slow
                return _json(_of(name).first())
            snap = _of(name).get()
            if not others:
                return _json(snap)
            key = (name, *others)
            prints = "|".join(_of(n).get()["fingerprint"] for n in key)
            with picking:
                if compared.get(key, {}).get("fingerprint") != prints:
                    compared.clear()  # one comparison is followed at a time
                    compared[key] = comparison(replace(source, study=name), list(key), prints)
                cmp = compared[key]
            return _json({**snap, "fingerprint": snap["fingerprint"] + "|" + prints, "comparison": cmp})
        except HpogridError as exc:
            return _json({"error": str(exc)}, 500)

    @app.post("/api/sync")
    def grid_sync() -> Response:
        if request.headers.get("X-Hpogrid") != "sync":
            return _json({"error": "missing header X-Hpogrid: sync"}, 403)
        if not syncing.acquire(blocking=False):
            return _json({"message": "a sync is already running"}, 409)
        try:
            message = do_sync(source)
        except HpogridError as exc:
            return _json({"message": f"sync failed: {exc}"}, 502)
        finally:
            syncing.release()
        snapshots.invalidate()
        return _json({"message": message})

    return app


def _grid_sync(source: Source) -> str:
    """``hpogrid report``'s sync of the project's grid tasks; a one-line outcome."""
    from hpogrid.backends.panda import sync_for_report

    result = sync_for_report(source.project, source.study, source.study_url)
    if result is None:
        return "this project has no grid tasks"
    text = f"{result.trials} trials from {result.asked} of {result.tasks} tasks synced"
    if result.running_jobs:
        text += f"; {result.running_jobs} jobs still running"
    return "; ".join([text, *result.notes])


def _resolve(host: str, port: int) -> None:
    """``--host`` names an address of this machine to listen on: else one line, before serving."""
    from hpogrid.errors import ValidationError

    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ValidationError("--host", f"cannot resolve {host!r}: {exc.strerror or exc}") from None
    except (UnicodeError, ValueError, OSError) as exc:
        raise ValidationError("--host", f"{host!r} is not a host name or address: {exc}") from None


def serve(source: Source, host: str = "127.0.0.1", port: int = 8080, interval_s: float = 2.0,
          say: Callable[[str], None] = print) -> None:
    """Serve until Ctrl-C. ``port`` 0 picks a free port; the URL is said once it listens."""
    from werkzeug.serving import make_server

    from hpogrid.errors import HpogridError

    _resolve(host, port)
    app = create_app(source, interval_s, host)
    said = io.StringIO()
    try:  # werkzeug prints its own lines and exits when it cannot bind: one line of ours instead
        with contextlib.redirect_stderr(said):
            server = make_server(host, port, app, threaded=True)
    except (OSError, SystemExit) as exc:
        why = getattr(exc, "strerror", None) or next((ln for ln in said.getvalue().splitlines() if ln.strip()),
                                                     str(exc))
        raise HpogridError(f"--port: cannot listen on {host}:{port}: {why}") from None
    shown = f"[{host}]" if ":" in host else host
    say(f"Serving the dashboard of {source.project} at http://{shown}:{server.server_port}/ (Ctrl-C stops)")
    if host not in LOOPBACK:
        say(f"Note: --host {host}: the dashboard serves without authentication; anyone who can reach "
            f"this address and port sees the study (and can ask for a grid sync).")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
