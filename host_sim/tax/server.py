"""Serving the tax backend with uvicorn on a socket we bind ourselves (so
port 0 works and the caller learns the port before serving starts)."""

from __future__ import annotations

import json
import signal
import socket
import sys
import threading
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI


def bind(host: str, port: int) -> socket.socket:
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(fam, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """SIGINT/SIGTERM stop the server gracefully and the process then exits
    0 (uvicorn would re-raise the signal once it has shut down)."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True


def make_server(app: FastAPI) -> uvicorn.Server:
    return _Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))


def serve_announced(app: FastAPI, host: str, port: int, extra: dict[str, Any]) -> None:
    """Bind, print one JSON line ``{"host", "port", "url", "openapi",
    **extra}`` on stdout (port 0: the port chosen), then serve until
    SIGINT/SIGTERM (the `payterm tax` and `payterm tsm` commands)."""
    sock = bind(host, port)
    try:
        bound_host, bound_port = sock.getsockname()[:2]
        url = f"http://{bound_host}:{bound_port}"
        info = {"host": bound_host, "port": bound_port, "url": url}
        info["openapi"] = url + "/openapi.json"
        sys.stdout.write(json.dumps({**info, **extra}) + "\n")
        sys.stdout.flush()
        make_server(app).run(sockets=[sock])
    finally:
        sock.close()


class Running:
    """A server in a background thread (tests, the demo)."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = bind(host, port)
        self.host, self.port = self.sock.getsockname()[:2]
        self.server = make_server(app)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()
        while not self.server.started and self.thread.is_alive():
            threading.Event().wait(0.01)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
