"""East Money (akshare's source) and tushare's API at the HTTP edge, for tests: the real
clients run (akshare's request parameters and parsing, tushare's ``DataApi``) over real
sockets to a local server on 127.0.0.1 that answers from the recorded bodies in
``fixtures/china`` (see ``make_fixtures.py`` there).

- :class:`RecordedChinaServer` serves ``/<host>/<path>``: the East Money k-line API
  (sliced by ``beg``/``end`` as East Money does), its data centre (loan prime rates) and
  tushare's ``/dataapi/<api>`` (token checked, sliced by ``start_date``/``end_date``).
  ``drop_first=n`` closes the first n connections without an answer (a flaky network);
  ``edit(key, body)`` may alter a body before it is served (key: the k-line ``secid``,
  or ``<api>:<ts_code>`` for tushare); ``down=True`` drops every connection.
- :func:`routed_to` points every ``requests`` call of the block to East Money or
  tushare at such a server (other hosts, Yahoo's say, are left alone): a transport
  adapter rewrites ``https://push2his.eastmoney.com/api/...`` to
  ``http://127.0.0.1:<port>/push2his.eastmoney.com/api/...`` and sends it for real (so
  time-outs are real too). akshare hard-codes its URLs; tushare's is a setting.
- :func:`silent_server` accepts connections and never answers: a network that hangs.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests
from requests.adapters import HTTPAdapter

FIXTURES = Path(__file__).parent / "fixtures" / "china"
RECORDED_TOKEN = "recorded-token"
KLINE_PATH = "/api/qt/stock/kline/get"
ROUTED_DOMAINS = ("eastmoney.com", "waditu.com")


def _kline_day(line: str) -> str:
    return line.split(",", 1)[0].replace("-", "")


class RecordedChinaServer:
    """A local HTTP server answering from the recorded bodies; remembers each request
    as ``(method, host, path, query or JSON body)``."""

    def __init__(self, drop_first: int = 0,
                 edit: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self.drop_first = drop_first
        self.edit = edit
        self.down = False
        self.requests: list[tuple[str, str, str, dict[str, Any]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                server._handle(self, "POST")

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def __enter__(self) -> RecordedChinaServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._http.shutdown()
        self._http.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parsed = urlparse(handler.path)
        host, _, rest = parsed.path.lstrip("/").partition("/")
        path = "/" + rest
        if method == "POST":
            length = int(handler.headers.get("Content-Length") or 0)
            payload = json.loads(handler.rfile.read(length) or b"{}")
        else:
            payload = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        self.requests.append((method, host, path, payload))
        if self.down or self.drop_first > 0:
            self.drop_first -= 1
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        status, body = self._answer(host, path, payload)
        data = json.dumps(body, ensure_ascii=False).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json;charset=UTF-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _answer(self, host: str, path: str, payload: dict[str, Any]) -> tuple[int, Any]:
        if host.endswith("push2his.eastmoney.com") and path == KLINE_PATH:
            return 200, self._kline(payload)
        if host == "datacenter-web.eastmoney.com" and path == "/api/data/v1/get":
            return 200, json.loads((FIXTURES / "eastmoney_lpr.json").read_text())
        if host == "api.waditu.com" and path.startswith("/dataapi/"):
            return 200, self._tushare(path.rsplit("/", 1)[-1], payload)
        return 404, {"message": f"no recording for {host}{path}"}

    def _kline(self, query: dict[str, str]) -> dict[str, Any]:
        path = FIXTURES / f"eastmoney_{query.get('secid')}.json"
        if not path.exists():  # East Money's answer for a code it does not know
            return {"rc": 0, "rt": 17, "svr": 177617938, "lt": 1, "full": 0, "dlmkts": "",
                    "data": None}
        body = json.loads(path.read_text())
        if self.edit is not None:
            self.edit(str(query.get("secid")), body)
        first, last = query.get("beg", "0"), query.get("end", "99999999")
        body["data"]["klines"] = [k for k in body["data"]["klines"]
                                  if first <= _kline_day(k) <= last]
        return body

    def _tushare(self, api: str, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("token") != RECORDED_TOKEN:
            return {"request_id": "recorded", "code": 40101, "msg": "您的token不对，请确认。",
                    "data": None}
        params = request.get("params", {})
        path = FIXTURES / f"tushare_{api}_{params.get('ts_code')}.json"
        if not path.exists():
            return {"request_id": "recorded", "code": 0, "msg": "",
                    "data": {"fields": ["ts_code", "trade_date"], "items": [],
                             "has_more": False}}
        body = json.loads(path.read_text())
        if self.edit is not None:
            self.edit(f"{api}:{params.get('ts_code')}", body)
        day = body["data"]["fields"].index("trade_date")
        first = params.get("start_date") or "0"
        last = params.get("end_date") or "99999999"
        body["data"]["items"] = [row for row in body["data"]["items"]
                                 if first <= row[day] <= last]
        return body


class _ToLocalServer(HTTPAdapter):
    """Sends every request to ``base`` with the original host as the first path part."""

    def __init__(self, base: str) -> None:
        super().__init__(max_retries=0)
        self.base = base.rstrip("/")

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = urlparse(request.url or "")
        rerouted = request.copy()
        rerouted.url = f"{self.base}/{url.hostname}{url.path}" + (
            f"?{url.query}" if url.query else "")
        return super().send(rerouted, **kwargs)


@contextlib.contextmanager
def routed_to(base: str) -> Iterator[None]:
    """Every ``requests`` session of the block sends East Money's and tushare's requests
    through the local server at ``base`` (akshare calls ``requests.get``, which makes a
    session per call)."""
    adapter = _ToLocalServer(base)
    original = requests.Session.get_adapter

    def get_adapter(self: requests.Session, url: str) -> Any:
        host = urlparse(url).hostname or ""
        if host.endswith(ROUTED_DOMAINS):
            return adapter
        return original(self, url)

    requests.Session.get_adapter = get_adapter  # type: ignore[method-assign]
    try:
        yield
    finally:
        requests.Session.get_adapter = original  # type: ignore[method-assign]


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """The URL of a socket that accepts connections (the kernel's backlog does) and
    never answers."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=16)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
