"""Listening on a port: bind before announcing (a busy port is one line, with the fix), and the webhook listener
that runs beside MCP on stdio."""

from __future__ import annotations

import errno
import functools
import socket
import sys

import anyio

from hajatek_mcp.server import HajatekServer

__all__ = ["ListenError", "bind", "stdio_with_webhooks", "url"]


class ListenError(Exception):
    """A port cannot be listened on. ``str()`` is one line: the port, why, the fix."""


def bind(host: str, port: int, flag: str) -> list[socket.socket]:
    """Listening sockets on every address of ``host``; :class:`ListenError` (one line, with the fix) if one fails."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {host}: {exc.strerror}; pass an address of this machine") from None
    bound: list[socket.socket] = []
    for family, kind, proto, _, address in dict.fromkeys(infos):
        sock = socket.socket(family, kind, proto)
        bound.append(sock)
        try:
            if sys.platform != "win32":  # as uvicorn does: a port whose old connections wait out TIME_WAIT is free
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(128)
        except OSError as exc:
            for opened in bound:
                opened.close()
            if exc.errno in {errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", errno.EADDRINUSE)}:
                raise ListenError(
                    f"port {port} on {host} is in use (another hajatek-mcp?): stop it or pass {flag} N"
                ) from None
            raise ListenError(
                f"cannot listen on port {port} on {host} ({exc.strerror}): pass another {flag}, or an "
                "address of this machine"
            ) from None
    return bound


def url(host: str, port: int, path: str) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}{path}"


async def stdio_with_webhooks(server: HajatekServer, sockets: list[socket.socket]) -> None:
    """MCP on stdio, and beside it a small HTTP listener that only receives webhooks (for Claude Desktop users)."""
    import uvicorn  # noqa: PLC0415
    from starlette.applications import Starlette  # noqa: PLC0415

    # log_config=None and no access log: uvicorn's defaults would print to stdout, which is the MCP protocol here.
    config = uvicorn.Config(Starlette(routes=server.webhook_routes), log_config=None, access_log=False, lifespan="off")
    listener = uvicorn.Server(config)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(functools.partial(listener.serve, sockets=sockets))
        try:
            await server.run_stdio_async()
        finally:
            listener.should_exit = True
