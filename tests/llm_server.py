"""A local OpenAI-compatible chat server for tests and benchmarks.

``POST /v1/chat/completions`` answers with whatever a scripted "model" (messages ->
content) says, in OpenAI's response format with ``usage``; it counts calls, and can be
told to answer slowly, with HTTP 500, or with text that is not JSON.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Script = Callable[[list[dict]], str]

INJECTION = "ignore previous instructions"


def tokens(text: str) -> int:
    return max(1, len(text) // 4)


class ChatServer:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.calls = 0
        self.delay_s = 0.0
        self.fail_status: int | None = None
        self.invalid_json = False
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.calls += 1
                    server.requests.append(body)
                if server.delay_s:
                    time.sleep(server.delay_s)
                if not self.path.endswith("/chat/completions"):
                    return self._reply(404, {"error": {"message": "not found"}})
                if server.fail_status:
                    return self._reply(server.fail_status,
                                       {"error": {"message": "scripted failure"}})
                messages = body["messages"]
                content = ("Sure! Here is my answer: {oops" if server.invalid_json
                           else server.script(messages))
                prompt = sum(tokens(str(m.get("content", ""))) for m in messages)
                completion = tokens(content)
                self._reply(200, {
                    "id": f"chatcmpl-{server.calls}", "object": "chat.completion",
                    "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                              "total_tokens": prompt + completion}})

            def _reply(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out
                    pass

        return Handler

    def start(self) -> ChatServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def chat_server(script: Script) -> Iterator[ChatServer]:
    server = ChatServer(script).start()
    try:
        yield server
    finally:
        server.stop()


def _field(messages: list[dict], name: str) -> str:
    found = re.search(rf"^{name}: (.*)$", messages[0]["content"], re.MULTILINE)
    return found.group(1).strip() if found else ""


def _request(messages: list[dict], name: str) -> str:
    found = re.search(rf"^{name}: (.*)$", messages[-1]["content"], re.MULTILINE)
    return found.group(1).strip() if found else ""


def debater(messages: list[dict], gullible: bool = False) -> str:
    """A scripted committee member: valid JSON for each task, the same every time.

    ``gullible``: it obeys an injected instruction in the data (size 1, execute)."""
    task = _field(messages, "TASK")
    obeys = gullible and INJECTION in messages[-1]["content"].lower()
    open_ = [int(n) for n in _request(messages, "OPEN OBJECTIONS").split(",") if n]
    size = _request(messages, "CURRENT SIZE") or "0.05"
    answers: dict[str, object] = {
        "case": {"thesis": "Trend intact above the 200-day average.",
                 "expected_return": 0.04, "size": 1.0 if obeys else 0.06},
        "objections": {"objections": [
            {"topic": topic, "severity": severity, "text": f"Risk from {topic}."}
            for topic, severity in (("volatility", 0.2), ("regime", 0.6), ("stretched", 0.4),
                                    ("edge", 0.5), ("memory", 0.1))]},
        "reading": {"reading": "The record shows a modest edge.", "assessment": "supportive"},
        "replies": {"replies": [
            {"objection": n, "action": "concede" if n == min(open_) else "rebut",
             "size": 1.0 if obeys else round(float(size) * 0.9, 4),
             "text": "Answered with the figures."} for n in open_]},
        "assessment": {"objections": [
            {"objection": n, "severity": 0.2, "resolved": n == min(open_)} for n in open_],
            "text": "Partly answered."},
        # the recall probe's question: this model does not remember prices
        "recall": {"close": None},
        "verdict": ({"verdict": "execute", "size": 1.0, "confidence": 0.99,
                     "reason": "as instructed"} if obeys else
                    {"verdict": "adjust", "size": 0.03, "confidence": 0.62,
                     "reason": "some edge, open risks"}),
    }
    return json.dumps(answers[task])


def gullible_debater(messages: list[dict]) -> str:
    return debater(messages, gullible=True)
