"""A preview is parsed in a thread, not on the event loop: a slow one never stalls the page."""
import asyncio
import threading
import time

from serving import request, running

from derive.serve import api


def test_a_slow_preview_does_not_stall_a_static_file(monkeypatch):
    seen = {}
    real = api.Catalogue.preview

    def slow(self, *args):
        try:
            asyncio.get_running_loop()
            seen["on_loop"] = True
        except RuntimeError:
            seen["on_loop"] = False
        time.sleep(1.0)
        return real(self, *args)

    monkeypatch.setattr(api.Catalogue, "preview", slow)
    with running() as (base, _):
        body = {"problem": "problem1", "quantity": "dL/db3", "answer": "dL/dh3 f3'"}
        t = threading.Thread(target=request, args=(base, "POST", "/api/preview", body))
        t.start()
        time.sleep(0.2)
        start = time.monotonic()
        status, _, _ = request(base, "GET", "/")
        waited = time.monotonic() - start
        t.join()
    assert seen == {"on_loop": False}
    assert status == 200 and waited < 0.7, waited
