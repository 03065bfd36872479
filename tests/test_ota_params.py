"""Signed parameter documents from the TSM verified under real MicroPython by
firmware.ota.params (protocols.p256 underneath)."""

from __future__ import annotations

import json
from pathlib import Path

from hsm_sim.tsm.app import PARAMS_KIND, canonical
from hsm_sim.tsm.keys import TsmKeys
from tools import mpytest

SCRIPT = """
import json
from binascii import unhexlify
from firmware.ota.params import verify, ParamsError
KEY = unhexlify(%r)
docs = json.loads(%r)
for name, doc, held in docs:
    try:
        p = verify(doc, KEY, held)
        print("OUT " + json.dumps([name, "ok", p["version"], p["tax_rates"]]))
    except ParamsError as e:
        print("OUT " + json.dumps([name, "refused", str(e)]))
"""


def _doc(keys: TsmKeys, version: int, **extra: object) -> dict[str, object]:
    body = {"kind": PARAMS_KIND, "version": version, "aids": [], "capks": [], "limits": {}}
    body["tax_rates"] = [{"code": "S", "rate": "16.00"}]
    body.update(extra)
    payload = canonical(body)
    sig = keys.sign_params(payload.encode()).hex()
    return {"version": version, "payload": payload, "signature": sig}


def test_params_verified_under_micropython(tmp_path: Path) -> None:
    keys, other = TsmKeys.generate(), TsmKeys.generate()
    good = _doc(keys, 3)
    flipped = dict(good, payload=str(good["payload"]).replace("16.00", "10.00"))
    no_tax = _doc(keys, 4)
    no_tax_payload = json.loads(str(no_tax["payload"]))
    del no_tax_payload["tax_rates"]
    p = canonical(no_tax_payload)
    no_tax = {"payload": p, "signature": keys.sign_params(p.encode()).hex()}
    docs = [
        ["good", good, 2],
        ["replayed", good, 3],
        ["flipped", flipped, 0],
        ["other key", _doc(other, 5), 0],
        ["no tax", no_tax, 0],
        ["not hex", dict(good, signature="zz"), 0],
        ["kind", _doc(keys, 6, kind="other"), 0],
    ]
    script = tmp_path / "params.py"
    script.write_text(SCRIPT % (keys.release_public.hex(), json.dumps(docs)))
    proc = mpytest.run_script(script, "256K")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = {r[0]: r[1:] for r in mpytest.json_lines(proc.stdout)}
    assert got == {
        "good": ["ok", 3, [{"code": "S", "rate": "16.00"}]],
        "replayed": ["refused", "version 3 is not above 3"],
        "flipped": ["refused", "signature does not verify"],
        "other key": ["refused", "signature does not verify"],
        "no tax": ["refused", "section tax_rates missing"],
        "not hex": ["refused", "signature is not hex"],
        "kind": ["refused", "payload kind is not payterm-params/1"],
    }
