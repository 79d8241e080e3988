"""uvicorn, accepting its own connections: a batch each time the socket is readable.

libuv (under uvloop) accepts one connection per turn of the event loop and relies on
the listening socket staying readable to be called again (libuv#3696). A turn of a
busy serving loop takes milliseconds to tens of milliseconds, so under load a worker
accepted only tens of connections a second: when thousands of clients connected at
once, most waited seconds in the kernel's accept queue, where TCP resent their first
requests and their clients timed out, unseen by admission control. :class:`Server`
keeps the listening socket from uvicorn and, each time it is readable, accepts up to
``ACCEPT_BATCH`` connections (as asyncio's own loop does), handing each to the event
loop with uvicorn's protocol. Every connection then reaches the door within a turn or
two, and each of its requests gets an answer: served, or refused with a 503 at once.

Everything else is uvicorn's: the lifespan, the protocol, keep-alive, and the graceful
shutdown, which closes the connections this server adopted as its own (they register
with uvicorn's server state like any other).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket

import uvicorn

__all__ = ["ACCEPT_BATCH", "Server"]

logger = logging.getLogger("shipyard.serving")

ACCEPT_BATCH = 128
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_RETRY_ACCEPT_S = 1.0  # after running out of file descriptors: what asyncio waits too


class Server(uvicorn.Server):
    """A uvicorn server over ``listener`` (a bound, listening socket, shared with other
    workers or not); :meth:`run` takes no sockets."""

    def __init__(self, config: uvicorn.Config, listener: socket.socket) -> None:
        super().__init__(config)
        self.listener = listener
        self._loop: asyncio.AbstractEventLoop | None = None
        self._adopting: set[asyncio.Task[None]] = set()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # the lifespan and uvicorn's state, but no server of its own
        if not self.started:
            return
        self._loop = asyncio.get_running_loop()
        self.listener.setblocking(False)
        self._loop.add_reader(self.listener.fileno(), self._accept)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self.listener.fileno())
        await super().shutdown(sockets=[self.listener])

    def _protocol(self) -> asyncio.Protocol:
        return self.config.http_protocol_class(  # type: ignore[call-arg, no-any-return]
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state)

    def _accept(self) -> None:
        loop = self._loop
        assert loop is not None
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return  # none left (or another worker took them)
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                if exc.errno not in _OUT_OF_RESOURCES:
                    raise
                logger.warning("cannot accept connections (%s); trying again in %g s", exc, _RETRY_ACCEPT_S)
                fd = self.listener.fileno()
                loop.remove_reader(fd)
                loop.call_later(_RETRY_ACCEPT_S, loop.add_reader, fd, self._accept)
                return
            conn.setblocking(False)
            task = loop.create_task(self._adopt(loop, conn))
            self._adopting.add(task)
            task.add_done_callback(self._adopting.discard)

    async def _adopt(self, loop: asyncio.AbstractEventLoop, conn: socket.socket) -> None:
        try:
            await loop.connect_accepted_socket(self._protocol, conn)
        except OSError:  # the client left before its connection was set up
            with contextlib.suppress(OSError):
                conn.close()
