"""A local server that answers ``/chat/completions`` like ``vllm serve``: the stand-in for the
GPU server that cannot run here. Real HTTP, real JSON; the "model" is a Python function. Given a
``tokenize`` function it also answers llama.cpp's ``/extras/tokenize``; without one that path
is missing (404), as on ``vllm serve``."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class StandInServer(ThreadingHTTPServer):
    """Answers /chat/completions like ``vllm serve``: a stand-in for the GPU server that cannot
    run here. The first ``failures`` requests get 503 with ``Retry-After-Ms: 1`` (the client
    waits as the server asks, so tests do not); replies come from ``answer``: a text, or an
    int for an HTTP error status. Tokenize requests go to ``tokenized``, not ``requests``."""

    def __init__(self, answer, failures: int = 0, tokenize=None) -> None:
        self.tokenize, self.tokenized = tokenize, []
        self.answer, self.failures, self.requests, self.in_flight, self.most_in_flight = (
            answer,
            failures,
            [],
            0,
            0,
        )
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *_: object) -> None:
        pass

    def do_POST(self) -> None:
        server: StandInServer = self.server  # type: ignore[assignment]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/extras/tokenize":
            self._tokenize(server, body)
            return
        with server.lock:
            server.requests.append((self.path, body))
            server.in_flight += 1
            server.most_in_flight = max(server.most_in_flight, server.in_flight)
            failing = server.failures > 0
            server.failures -= failing
        threading.Event().wait(0.05)
        with server.lock:
            server.in_flight -= 1
        answer = 503 if failing else server.answer(body)
        if isinstance(answer, int):
            self.send_response(answer)
            if failing:
                self.send_header("Retry-After-Ms", "1")
            self.end_headers()
            return
        reply = {
            "choices": [{"message": {"content": answer}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7},
        }
        self._reply(reply)

    def _tokenize(self, server: StandInServer, body: dict) -> None:
        with server.lock:
            server.tokenized.append(body["input"])
        if server.tokenize is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._reply({"tokens": server.tokenize(body["input"])})

    def _reply(self, reply: dict) -> None:
        payload = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def server():
    servers = []

    def start(answer, failures: int = 0, tokenize=None) -> StandInServer:
        srv = StandInServer(answer, failures, tokenize)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.shutdown()
