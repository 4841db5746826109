"""Slow clients: a request (its headers and its body) must arrive within REQUEST_TIMEOUT seconds of
the connection opening or of the previous response, or the connection is closed. uvicorn's own
keep-alive timeout covers only idle connections, so fifty sockets trickling one header byte a
second held fifty connections open for as long as they liked.

uvicorn reads HTTP with httptools (C) where it is installed, else with h11 (pure Python: most of the
web process's time per request); the deadline is the same on both (PROTOCOL picks one).
"""
from __future__ import annotations

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

REQUEST_TIMEOUT = 10.0        # seconds; a page or API request takes milliseconds to send
MAX_HEAD = 16 * 1024          # bytes of request line and headers: h11's own limit, kept on httptools


class _Deadline:
    """The deadline's timer, for a uvicorn protocol (its loop, transport and logger): armed when the
    connection opens, disarmed when it closes (each protocol re-arms it between requests)."""

    request_timeout = REQUEST_TIMEOUT
    _slow = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._slow = self.loop.call_later(self.request_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._slow is not None:
            self._slow.cancel()
            self._slow = None

    def _too_slow(self) -> None:
        self._slow = None
        if not self.transport.is_closing():
            self.logger.info("closed a connection that took over %g s to send its request", self.request_timeout)
            self.transport.close()


class TimedH11Protocol(_Deadline, H11Protocol):
    """uvicorn's h11 protocol with a deadline on receiving each request."""

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE and self.conn.their_state is not h11.SEND_BODY:
            self._disarm()                 # the whole request is in (or the connection is ending)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm()                    # the next request on this connection gets its own deadline


def _httptools_protocol():
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:                    # httptools is not installed: h11 it is
        return None

    class TimedHttpToolsProtocol(_Deadline, HttpToolsProtocol):
        """uvicorn's httptools protocol with a deadline on receiving each request."""

        _in_head, _head = True, 0          # reading a request line and headers; their bytes so far

        def data_received(self, data: bytes) -> None:
            """h11 refuses a request line and headers over MAX_HEAD bytes; httptools would keep them
            all: they are fed at most up to that many, then refused with h11's 400."""
            while data and self._in_head and not self.transport.is_closing():
                room = MAX_HEAD - self._head
                if room <= 0:
                    self.send_400_response("Invalid HTTP request received.")
                    return
                piece, data = data[:room], data[room:]
                self._head += len(piece)
                super().data_received(piece)
            if data and not self.transport.is_closing():
                super().data_received(data)

        def on_headers_complete(self) -> None:
            self._in_head = False
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._disarm()                 # the whole request is in
            self._in_head, self._head = True, 0      # what follows is the next request's head
            super().on_message_complete()

        def on_response_complete(self) -> None:
            pipelined = bool(self.pipeline)          # a next request already in whole: it starts now
            super().on_response_complete()
            if not self.transport.is_closing() and not pipelined:
                self._arm()                # the next request on this connection gets its own deadline
    return TimedHttpToolsProtocol


PROTOCOL = _httptools_protocol() or TimedH11Protocol
