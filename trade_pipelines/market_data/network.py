"""Time-outs and retries for the live adapters that talk HTTP through ``requests``.

Offline, DNS fails at once and a source raises a connection error; on a network that
drops packets the same call would wait forever, so every request carries a time-out.
Some akshare functions accept none (``stock_zh_index_daily_em``) or hard-code their own
(``stock_hk_hist`` waits 15 s): :func:`requests_timeout` imposes ours on every request
made by the calling thread while the block runs, whatever the library passed.

:func:`with_retries` retries connection errors and time-outs with exponential back-off
and then raises :class:`SourceUnreachable`, which says how long it tried. The worst case
of one call is ``attempts * timeout_s + backoff_s * (2**(attempts - 1) - 1)`` seconds
(for the connect and for each read of the answer: requests' time-out is per socket
operation, not per request).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import requests

from trade_pipelines.market_data.errors import SourceUnreachable

T = TypeVar("T")

# Errors worth another attempt: the source may answer next time.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (requests.exceptions.ConnectionError,
                                                 requests.exceptions.Timeout)

_imposed_timeout: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "imposed_timeout", default=None)
_install_lock = threading.Lock()
_installed = 0
_original_request: Callable[..., requests.Response] | None = None


def _request_with_imposed_timeout(self: requests.Session, method: str, url: str,
                                  *args: Any, **kwargs: Any) -> requests.Response:
    imposed = _imposed_timeout.get()
    if imposed is not None:
        kwargs["timeout"] = imposed
    assert _original_request is not None
    return _original_request(self, method, url, *args, **kwargs)


@contextlib.contextmanager
def requests_timeout(timeout_s: float) -> Iterator[None]:
    """Every ``requests`` call of this thread (module-level or through a session) uses
    ``timeout_s`` while the block runs; other threads are not affected."""
    global _installed, _original_request
    if timeout_s <= 0:
        raise ValueError(f"time-out must be positive, got {timeout_s}")
    with _install_lock:
        if _installed == 0:
            _original_request = requests.Session.request
            requests.Session.request = _request_with_imposed_timeout  # type: ignore[method-assign]
        _installed += 1
    token = _imposed_timeout.set(timeout_s)
    try:
        yield
    finally:
        _imposed_timeout.reset(token)
        with _install_lock:
            _installed -= 1
            if _installed == 0 and _original_request is not None:
                requests.Session.request = _original_request  # type: ignore[method-assign]
                _original_request = None


def with_retries(call: Callable[[], T], *, what: str, source: str, symbols: list[str],
                 attempts: int, backoff_s: float, timeout_s: float,
                 sleep: Callable[[float], None] = time.sleep) -> T:
    """``call()``, tried up to ``attempts`` times on connection errors and time-outs,
    waiting ``backoff_s``, then twice that, and so on between tries. Any other error
    passes through at once (a bad answer does not improve by asking again)."""
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts}")
    last: Exception | None = None
    for attempt in range(attempts):
        if attempt:
            sleep(backoff_s * 2 ** (attempt - 1))
        try:
            return call()
        except TRANSIENT_ERRORS as error:
            last = error
    kind = "timed out" if isinstance(last, requests.exceptions.Timeout) else "unreachable"
    raise SourceUnreachable(
        f"{source} {kind} for {what} after {attempts} attempt(s) with a {timeout_s:g} s "
        f"time-out: {last}", symbols) from last
