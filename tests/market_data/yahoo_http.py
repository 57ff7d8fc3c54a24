"""Yahoo Finance at the HTTP edge, for tests: yfinance itself runs (cookie and crumb,
time zone look-up, its request parameters, JSON parsing, adjustment, the multi-ticker
frame), and only the socket is replaced.

``RecordedYahoo`` is a ``requests`` transport adapter that answers from the chart bodies
in ``fixtures/yahoo`` (see ``make_charts.py`` there), slicing them by ``period1`` and
``period2`` as Yahoo does; ``offline=True`` makes every request fail the way it does on
a machine without a network. ``yahoo_session`` installs it as yfinance's session (the
documented ``session=`` hook of its shared data object) and restores the old one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import requests
from requests.adapters import BaseAdapter

CHARTS = Path(__file__).parent / "fixtures" / "yahoo"
CHART_PATH = "/v8/finance/chart/"


class RecordedYahoo(BaseAdapter):
    """Serves recorded chart bodies; remembers every URL it was asked for."""

    def __init__(self, offline: bool = False,
                 edit: Callable[[str, dict], None] | None = None) -> None:
        """``edit(symbol, result)`` may alter a body before it is served (a bad bar)."""
        super().__init__()
        self.offline = offline
        self.edit = edit
        self.requests: list[str] = []

    def send(self, request: requests.PreparedRequest, **_: object) -> requests.Response:
        self.requests.append(request.url or "")
        if self.offline:
            raise requests.exceptions.ConnectionError(
                f"Failed to resolve '{urlparse(request.url).hostname}' (offline)")
        url = urlparse(request.url)
        if url.hostname == "fc.yahoo.com":
            # Yahoo answers 404 here and sets a cookie (none needed for the chart API).
            return self._response(request, 404, "<html><body>404</body></html>")
        if url.path.endswith("/getcrumb"):
            return self._response(request, 200, "recorded-crumb")
        if url.path.startswith(CHART_PATH):
            symbol = unquote(url.path[len(CHART_PATH):])
            return self._chart(request, symbol, parse_qs(url.query))
        return self._response(request, 404, "")

    def _chart(self, request: requests.PreparedRequest, symbol: str,
               query: dict[str, list[str]]) -> requests.Response:
        path = CHARTS / f"{symbol}.json"
        if not path.exists():
            error = {"chart": {"result": None, "error": {
                "code": "Not Found", "description": "No data found, symbol may be delisted"}}}
            return self._response(request, 404, json.dumps(error))
        body = json.loads(path.read_text())
        result = body["chart"]["result"][0]
        if self.edit is not None:
            self.edit(symbol, result)
        stamps = result["timestamp"]
        if "period1" in query:
            first, last = int(query["period1"][0]), int(query["period2"][0])
            keep = [i for i, t in enumerate(stamps) if first <= t < last]
        else:  # range=1d: the latest session only
            keep = [len(stamps) - 1]
        result["timestamp"] = [stamps[i] for i in keep]
        for block in (result["indicators"]["quote"][0], result["indicators"]["adjclose"][0]):
            for key, values in block.items():
                block[key] = [values[i] for i in keep]
        return self._response(request, 200, json.dumps(body))

    @staticmethod
    def _response(request: requests.PreparedRequest, status: int,
                  text: str) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response._content = text.encode()
        response.encoding = "utf-8"
        response.headers["Content-Type"] = "application/json;charset=utf-8"
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass


@contextmanager
def yahoo_session(adapter: RecordedYahoo, cache_dir: Path) -> Iterator[RecordedYahoo]:
    """yfinance talks to ``adapter`` for the duration of the block: every session it
    makes for itself (``yf.download`` makes a new one per call) is a ``requests`` session
    with the adapter mounted."""
    import yfinance as yf
    import yfinance.base
    import yfinance.multi
    from yfinance.data import YfData

    def new_session() -> requests.Session:
        session = requests.Session()
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    yf.set_tz_cache_location(str(cache_dir))
    factories = {module: module.new_session for module in (yfinance.base, yfinance.multi)}
    data = YfData()
    previous = data._session

    def forget() -> None:
        data._crumb = data._cookie = None
        YfData.cache_get.cache_clear()

    for module in factories:
        module.new_session = new_session
    YfData(session=new_session())
    forget()
    try:
        yield adapter
    finally:
        for module, factory in factories.items():
            module.new_session = factory
        YfData(session=previous)
        forget()
