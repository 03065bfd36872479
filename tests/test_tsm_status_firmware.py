"""``TsmClient.report_version`` under the real MicroPython unix port on the
sim board (the SE emulator on i2c0, the board's OTA area on littlefs, the
real TSM served by uvicorn on 127.0.0.1 and reached through ``net1``): the
device enrols, reports the image it runs (the factory image, slot a,
version 0), the TSM shows it in the device status and its history; once the
device is revoked, its report is refused (``TsmRefused`` 403 ``revoked``)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from se_support import SeServer
from test_tsm_client import SERIAL, Device
from tsm_status_support import ADMIN, Tsm

REPORT = """
se.generate_key()
tsm.enrol()
o = ota()
out({"state": o.state(), "report": attempt(tsm.report_version, o)})
finish()
"""

AGAIN = """
out({"report": attempt(tsm.report_version, ota())})
finish()
"""


@pytest.fixture
def se_server(tmp_path: Path) -> Iterator[SeServer]:
    srv = SeServer(tmp_path / "se.json")
    yield srv
    srv.close()


def _get(tsm: Tsm, path: str, admin: bool = False) -> Any:
    req = urllib.request.Request(tsm.url + path)
    if admin:
        req.add_header("Authorization", "Bearer " + ADMIN)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def test_report_version_from_the_device(tmp_path: Path, se_server: SeServer) -> None:
    tsm = Tsm(tmp_path)
    try:
        dev = Device(tmp_path, tsm.keys, se_server.port)
        here = f"127.0.0.1:{tsm.server.port}"  # type: ignore[union-attr]
        (got,) = dev.run(REPORT, here)
        assert got["state"] == {"active": "a", "version": 0, "min_version": 0}
        ans = got["report"]["ok"]
        assert (ans["version"], ans["ota_slot"]) == (0, "a"), got
        st = _get(tsm, f"/v1/devices/{SERIAL}/status")
        assert st["status"] == "active" and st["firmware"] == ans
        hist = _get(tsm, f"/v1/devices/{SERIAL}/firmware", admin=True)
        assert hist == [ans]

        tsm.revoke(SERIAL)
        (again,) = dev.run(AGAIN, here)
        assert again["report"]["error"] == "TsmRefused", again
        assert "revoked" in again["report"]["message"]
        assert _get(tsm, f"/v1/devices/{SERIAL}/firmware", admin=True) == [ans]
    finally:
        tsm.close()
