"""Slow clients: a request (its headers and its body) must arrive within REQUEST_TIMEOUT seconds of
the connection opening or of the previous response, or the connection is closed. uvicorn's own
keep-alive timeout covers only idle connections, so fifty sockets trickling one header byte a
second held fifty connections open for as long as they liked. A reply is held to the same time: a
client that stops reading it (the socket's buffer full for REQUEST_TIMEOUT seconds) is cut off.

HTTP is read with h11 (uvicorn's pure-Python reader; its 16 KiB bound on a request's line and
headers stands). httptools, the C reader, was 13% faster but unsafe here: pipelined requests and
chunked trailers grew the web process by gigabytes.
"""
from __future__ import annotations

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

REQUEST_TIMEOUT = 10.0        # seconds; a page or API request takes milliseconds to send


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on receiving each request and on a reply being read."""

    request_timeout = REQUEST_TIMEOUT
    _slow = _stalled = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc) -> None:
        self._disarm()
        self._unstall()
        super().connection_lost(exc)

    def pause_writing(self) -> None:          # the client is not reading what it asked for
        super().pause_writing()
        if self._stalled is None:
            self._stalled = self.loop.call_later(self.request_timeout, self._close, "read its reply", True)

    def resume_writing(self) -> None:
        self._unstall()
        super().resume_writing()

    def _unstall(self) -> None:
        if self._stalled is not None:
            self._stalled.cancel()
            self._stalled = None

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE and self.conn.their_state is not h11.SEND_BODY:
            self._disarm()                 # the whole request is in (or the connection is ending)

    def on_response_complete(self) -> None:
        super().on_response_complete()     # (reads a pipelined next request, as far as it has come)
        if not self.transport.is_closing() and self.conn.their_state in (h11.IDLE, h11.SEND_BODY):
            self._arm()                    # the next request, or the rest of it, gets its own deadline

    def _arm(self) -> None:
        self._disarm()
        self._slow = self.loop.call_later(self.request_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._slow is not None:
            self._slow.cancel()
            self._slow = None

    def _too_slow(self) -> None:
        self._slow = None
        self._close("send its request")

    def _close(self, what: str, drop_reply: bool = False) -> None:
        if drop_reply:                     # close() would wait to send what the client does not read
            self.logger.info("closed a connection that took over %g s to %s", self.request_timeout, what)
            self.transport.abort()
        elif not self.transport.is_closing():
            self.logger.info("closed a connection that took over %g s to %s", self.request_timeout, what)
            self.transport.close()
