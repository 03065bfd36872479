"""The terminal application (firmware/app) end to end: the firmware under
the real MicroPython unix port on the sim board, the real PN532 emulator
and contact card reader with virtual cards, the real acquirer host with
the real HSM over TCP, the virtual printer (tests/app_support.py).

Each test asserts what the host recorded (transaction rows, balances), the
receipt the printer cut (masked PAN, auth code, never the PAN), the
screens shown, and that every message the firmware sent decodes with
pyiso8583 from the dialect's spec."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import iso8583 as pyiso8583
from app_support import Rig, Run, running_rig

from host_sim.acquirer import seed
from payterm.iso8583_pyiso import to_pyiso8583_spec
from protocols import iso8583, tlv
from protocols.iso8583_specs import PAYTERM_1987

PYISO_SPEC = to_pyiso8583_spec(PAYTERM_1987)


def pan_of(profile: str) -> str:
    return seed.card_facts(profile).pan


def peers_decode(run: Run) -> None:
    """Every request the firmware sent decodes with pyiso8583 to the same fields."""
    assert run.wires
    for wire, ours in zip(run.wires, run.requests, strict=True):
        theirs, _ = pyiso8583.decode(wire, PYISO_SPEC)
        assert theirs["t"] == ours["t"]
        for key, value in ours.items():
            if key.isdigit() and key not in ("1",):
                assert theirs[key].upper() == value.upper(), key


def receipt_checks(run: Run, pan: str, auth_code: str) -> None:
    assert len(run.receipts) == 2  # merchant, customer
    for receipt in run.receipts:
        text = receipt.text
        assert "*" * (len(pan) - 4) + pan[-4:] in text
        assert pan not in text
        assert "AUTH CODE " + auth_code in text
        assert "APPROVED" in text
    assert "MERCHANT COPY" in run.receipts[0].text
    assert "CUSTOMER COPY" in run.receipts[1].text


def masked(pan: str) -> str:
    return "*" * (len(pan) - 4) + pan[-4:]


def trace_checks(run: Run, pan: str, stans: list[str]) -> dict[str, Any]:
    """The app exported one EMV trace per card transaction (TRACE lines,
    firmware/app/trace_export.py): commands and answers alternate, the PAN
    never in clear; the last one is returned."""
    assert [t["stan"] for t in run.traces] == stans
    for trace in run.traces:
        assert trace["apdus"], trace
        dirs = [a["dir"] for a in trace["apdus"]]
        assert dirs == ["C", "R"] * (len(dirs) // 2), dirs
        text = json.dumps(trace)
        assert pan not in text
    return run.traces[-1]


def apdus_of(trace: dict[str, Any], prefix: str) -> list[tuple[str, str]]:
    pairs = zip(trace["apdus"][0::2], trace["apdus"][1::2], strict=True)
    return [(c["hex"], r["hex"]) for c, r in pairs if c["hex"].startswith(prefix)]


def host_rows(rig: Rig, stan: str) -> list[tuple[Any, ...]]:
    return rig.sql(
        "SELECT mti, amount, response_code, auth_code, status FROM transactions"
        " WHERE tid = 'PT000001' AND stan = ?",
        (stan,),
    )


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)


async def _contactless_online(tmp_path: Path, profile: str, kernel: int) -> None:
    pan = pan_of(profile)
    async with running_rig(tmp_path) as rig:
        before = rig.balance(pan)
        run = await rig.terminal(
            [{"op": "sale", "amount": 30000, "card": "tap"}], nfc_card=profile, receipts=2
        )
        (result,) = run.results
        assert result["result"] == "approved", run.stdout
        assert (result["kernel"], result["outcome"], result["code"]) == (
            kernel,
            "online request",
            "00",
        )
        (request,) = run.requests
        assert request["t"] == "0200" and request["4"] == "000000030000"
        assert request["22"] == "071" and "64" in request
        icc = {n.tag: n.value for n in tlv.decode(bytes.fromhex(request["55"]))}
        assert icc[0x9F27][0] & 0xC0 == 0x80  # an ARQC went online
        if kernel == 2:  # CDA: supported by card (AIP) and done (TVR: performed, not failed)
            assert icc[0x82][0] & 0x01 and icc[0x95][0] & 0x84 == 0
        assert host_rows(rig, result["stan"]) == [
            ("0200", 30000, "00", result["auth_code"], "approved")
        ]
        assert rig.balance(pan) == before - 30000
        receipt_checks(run, pan, result["auth_code"])
        assert result["pan_masked"] == masked(pan)  # and the card's data left RAM with it
        assert [s["message"] for s in run.screens][-2:] == ["approved", "idle"]
        peers_decode(run)
        trace = trace_checks(run, pan, [result["stan"]])
        assert (trace["interface"], trace["kernel"]) == ("contactless", kernel)
        assert apdus_of(trace, "00A404000E325041592E5359532E4444463031")  # PPSE
        assert apdus_of(trace, "80A8")  # GPO
        assert all(isinstance(a["ms"], int) for a in trace["apdus"])
        if kernel == 2:  # CDA requested in the GENERATE AC
            (gen_ac,) = apdus_of(trace, "80AE")
            assert int(gen_ac[0][4:6], 16) & 0x10


def test_contactless_visa_online_approval(tmp_path: Path) -> None:
    run_async(_contactless_online(tmp_path, "visa_qvsdc", 3))


def test_contactless_mastercard_cda_online_approval(tmp_path: Path) -> None:
    run_async(_contactless_online(tmp_path, "mastercard_cda", 2))


def test_contact_offline_pin_online_approval(tmp_path: Path) -> None:
    """contact_offline_pin above the floor limit: offline plaintext PIN into
    VERIFY, ARQC online, ARPC back into the second GENERATE AC, TC."""

    async def go() -> None:
        pan = pan_of("contact_offline_pin")
        async with running_rig(tmp_path) as rig:
            run = await rig.terminal(
                [{"op": "sale", "amount": 60000, "card": "insert", "pins": ["1234"]}],
                nfc_card=None,
                receipts=2,
            )
            (result,) = run.results
            assert (result["result"], result["code"], result["contact_outcome"]) == (
                "approved",
                "00",
                "approved",
            ), run.stdout
            assert result["cvm_text"] == "PIN VERIFIED"
            (request,) = run.requests
            assert request["22"] == "051" and "52" not in request
            icc = {n.tag: n.value for n in tlv.decode(bytes.fromhex(request["55"]))}
            assert icc[0x9F34][0] & 0x3F == 0x01 and icc[0x9F34][2] == 0x02  # offline PIN, OK
            assert host_rows(rig, result["stan"]) == [
                ("0200", 60000, "00", result["auth_code"], "approved")
            ]
            receipt_checks(run, pan, result["auth_code"])
            assert "TVR " + result["tvr"] in run.receipts[0].text
            assert "pin" in [s["message"] for s in run.screens]
            peers_decode(run)
            trace = trace_checks(run, pan, [result["stan"]])
            assert trace["interface"] == "contact" and trace["result"] == "approved"
            assert apdus_of(trace, "00A404000E315041592E5359532E4444463031")  # PSE
            (verify,) = apdus_of(trace, "0020008008")  # the PIN itself never written
            assert verify == ("0020008008" + "*" * 16, "9000")
            assert len(apdus_of(trace, "80AE")) == 2  # ARQC, then TC after the ARPC

    run_async(go())


def test_contact_online_pin_approval_then_wrong_pin_declined(tmp_path: Path) -> None:
    """contact_online_pin: the PIN enciphered in format 4 under the terminal's
    AES DUKPT key, verified by the host through the HSM; a wrong PIN: 55,
    INCORRECT PIN, nothing posted, a declined receipt."""

    async def go() -> None:
        pan = pan_of("contact_online_pin")
        async with running_rig(tmp_path) as rig:
            before = rig.balance(pan)
            run = await rig.terminal(
                [
                    {"op": "sale", "amount": 30000, "card": "insert", "pins": ["1234"]},
                    {"op": "sale", "amount": 25000, "card": "insert", "pins": ["9999"]},
                ],
                nfc_card=None,
                contact_card="contact_online_pin",
                receipts=3,
            )
            ok, wrong = run.results
            assert (ok["result"], ok["code"], ok["cvm_text"]) == (
                "approved",
                "00",
                "PIN VERIFIED ONLINE",
            )
            assert (wrong["result"], wrong["code"], wrong["message"]) == (
                "declined",
                "55",
                "incorrect_pin",
            )
            assert ok["pan_masked"] == wrong["pan_masked"] == masked(pan)
            first, second = run.requests
            for req in (first, second):
                assert len(req["52"]) == 32 and req["53"][:4] == "0402"
            assert first["53"] != second["53"]  # the DUKPT counter advanced
            assert rig.balance(pan) == before - 30000
            assert host_rows(rig, wrong["stan"])[0][2:] == ("55", "", "declined")
            assert "INCORRECT PIN" in [s["text"] for s in run.screens]
            declined = run.receipts[2].text
            assert "DECLINED" in declined and "CUSTOMER COPY" in declined
            assert pan not in declined
            assert "1234" not in run.stdout and "9999" not in run.stdout
            peers_decode(run)

    run_async(go())


def test_host_silent_reversal_sent_and_accepted(tmp_path: Path) -> None:
    """The host approves the 0200 but its answer is lost on the way: the
    terminal times out, declines, and sends an 0400 (field 90 naming the
    0200); the host gives the money back."""

    async def go() -> None:
        pan = pan_of("visa_qvsdc")
        async with running_rig(tmp_path) as rig:
            rig.relay.lose = lambda m: m["t"] == "0200"
            before = rig.balance(pan)
            run = await rig.terminal(
                [{"op": "sale", "amount": 30000, "card": "tap"}], host_timeout_ms=1500, receipts=1
            )
            (result,) = run.results
            assert (result["result"], result["message"], result["reversed"]) == (
                "declined",
                "host_timeout",
                True,
            )
            sale, reversal = run.requests
            assert reversal["t"] == "0400" and reversal["39"] == "68"
            assert reversal["90"] == "0200" + sale["11"] + sale["7"] + "0" * 22
            assert reversal["4"] == sale["4"] and reversal["2"] == sale["2"]
            assert rig.sql(
                "SELECT mti, response_code, status FROM transactions WHERE tid = 'PT000001'"
                " ORDER BY id"
            ) == [("0200", "00", "reversed"), ("0400", "00", "reversal")]
            assert rig.balance(pan) == before
            assert "NO HOST RESPONSE, REVERSED" in [s["text"] for s in run.screens]
            peers_decode(run)

    run_async(go())


def test_offline_approval_advice_later_refund_and_batch_close(tmp_path: Path) -> None:
    """A tap under the floor limit is approved offline by the card (Y1) and
    forwarded later as an 0220; a refund goes online; an online sale; the
    batch closes with totals equal to the host's (0510 00)."""

    async def go() -> None:
        pan = pan_of("visa_qvsdc")
        async with running_rig(tmp_path) as rig:
            before = rig.balance(pan)
            run = await rig.terminal(
                [
                    {"op": "sale", "amount": 15000, "card": "tap"},
                    {"op": "echo"},
                    {"op": "sale", "amount": 30000, "card": "tap"},
                    {"op": "refund", "amount": 5000, "card": "tap"},
                    {"op": "batch_close"},
                ],
                receipts=6,
            )
            offline, echo, sale, refund, close = run.results
            assert (offline["result"], offline["message"], offline["auth_code"]) == (
                "approved",
                "approved_offline",
                "Y1",
            )
            assert echo["code"] == "00"
            # the advice went after the echo, before the next sale's 0200
            assert [r["t"] for r in run.requests] == ["0800", "0220", "0200", "0200", "0500"]
            advice = run.requests[1]
            assert advice["38"] == "Y1    " and advice["4"] == "000000015000"
            assert (sale["code"], refund["code"]) == ("00", "00")
            assert run.requests[3]["3"] == "200000"
            assert close == {
                "kind": "batch_close",
                "batch": "000001",
                "totals": [2, 45000, 1, 5000],
                "code": "00",
            }
            assert rig.sql(
                "SELECT batch_number, response_code, sales_count, sales_amount, refunds_count,"
                " refunds_amount FROM batches WHERE tid = 'PT000001'"
            ) == [("000001", "00", 2, 45000, 1, 5000)]
            assert rig.balance(pan) == before - 15000 - 30000 + 5000
            assert "APPROVED OFFLINE" in [s["text"] for s in run.screens]
            assert "AUTH CODE Y1" in run.receipts[0].text
            peers_decode(run)

    run_async(go())


def test_over_limit_and_expired_card_declined(tmp_path: Path) -> None:
    """600.000 JOD over the card's per-transaction limit: 61 EXCEEDS LIMIT;
    the expired contact card: declined by the card offline, EXPIRED CARD."""

    async def go() -> None:
        async with running_rig(tmp_path) as rig:
            run = await rig.terminal(
                [{"op": "sale", "amount": 600000, "card": "insert", "pins": ["1234"]}],
                nfc_card=None,
                contact_card="contact_online_pin",
                receipts=1,
            )
            (over,) = run.results
            assert (over["code"], over["message"]) == ("61", "over_limit")
            run2 = await rig.terminal(
                [{"op": "sale", "amount": 30000, "card": "insert"}],
                nfc_card=None,
                contact_card="expired",
                receipts=1,
            )
            (expired,) = run2.results
            assert (expired["result"], expired["message"]) == ("declined", "expired_card")
            assert int(expired["tvr"][2:4], 16) & 0x40  # TVR: expired application
            assert run2.requests == []
            assert "EXPIRED CARD" in [s["text"] for s in run2.screens]
            peers_decode(run)

    run_async(go())


def test_preauthorisation_void_and_empty_batch(tmp_path: Path) -> None:
    """A pre-authorisation goes online as an 0100 (a hold) even when the card
    would approve offline; a sale voided by an 0400 (reason 17) that the host
    accepts; the batch then holds nothing and closes with zero totals."""

    async def go() -> None:
        pan = pan_of("visa_qvsdc")
        async with running_rig(tmp_path) as rig:
            before = rig.balance(pan)
            run = await rig.terminal(
                [
                    {"op": "preauth", "amount": 20000, "card": "tap"},
                    {"op": "sale", "amount": 30000, "card": "tap"},
                    {"op": "void"},
                    {"op": "batch_close"},
                ],
                receipts=4,
            )
            hold, sale, void, close = run.results
            assert (hold["result"], hold["code"]) == ("approved", "00")
            assert (sale["result"], void["result"], void["code"]) == ("approved", "approved", "00")
            assert void["stan"] == sale["stan"]
            assert [r["t"] for r in run.requests] == ["0100", "0200", "0400", "0500"]
            assert run.requests[2]["39"] == "17"
            assert close["totals"] == [0, 0, 0, 0] and close["code"] == "00"
            rows = rig.sql("SELECT mti, status FROM transactions WHERE tid = 'PT000001'")
            assert ("0200", "reversed") in rows and ("0100", "approved") in rows
            assert rig.balance(pan) == before - 20000  # the hold stands, the sale went back
            assert "TRANSACTION VOIDED" in [s["text"] for s in run.screens]
            assert "PRE-AUTHORISATION" in run.receipts[0].text
            peers_decode(run)

    run_async(go())


def test_preauthorisation_completed_for_less_then_refused_twice(tmp_path: Path) -> None:
    """A pre-authorisation of 50 JOD (an 0100 hold) completed for 42.500 JOD
    by an 0220 whose field 90 names the 0100: the account ends exactly
    42.500 below where it stood and the hold is gone; the batch counts the
    completion as a sale.  The terminal refuses a second completion itself;
    the host answers the same 0220 again with its first answer, byte for
    byte, and refuses another completion of that 0100 (94)."""

    async def go() -> None:
        from host_sim.acquirer.terminal_sim import Link, SimTerminal

        pan = pan_of("visa_qvsdc")
        async with running_rig(tmp_path) as rig:
            before = rig.balance(pan)
            run = await rig.terminal(
                [
                    {"op": "preauth", "amount": 50000, "card": "tap", "pins": ["1234"]},
                    {"op": "complete", "amount": 42500},
                    {"op": "complete", "amount": 42500},
                    {"op": "batch_close"},
                ],
                receipts=4,
            )
            hold, done, again, close = run.results
            assert (hold["result"], hold.get("code")) == ("approved", "00"), run.stdout
            assert (done["kind"], done["result"], done["code"]) == ("completion", "approved", "00")
            assert done["preauth_stan"] == hold["stan"] and done["auth_code"] == hold["auth_code"]
            assert (again["result"], again["message"]) == ("declined", "already_completed")
            assert [r["t"] for r in run.requests] == ["0100", "0220", "0500"]
            preauth, completion = run.requests[0], run.requests[1]
            assert completion["90"] == "0100" + preauth["11"] + preauth["7"] + "0" * 22
            assert completion["4"] == "000000042500" and completion["38"] == hold["auth_code"]
            assert "128" in completion and "55" not in completion and "52" not in completion
            assert close["totals"] == [1, 42500, 0, 0] and close["code"] == "00"
            assert rig.balance(pan) == before - 42500
            assert rig.sql(
                "SELECT kind, amount FROM postings WHERE transaction_id IN"
                " (SELECT id FROM transactions WHERE tid = 'PT000001') ORDER BY id"
            ) == [("hold", -50000), ("hold release", 50000), ("completion", -42500)]
            ((completed_by,),) = rig.sql("SELECT completed_by FROM transactions WHERE mti = '0100'")
            ((answer,),) = rig.sql(
                "SELECT response FROM transactions WHERE id = ? AND mti = '0220'", (completed_by,)
            )
            assert "COMPLETION" in run.receipts[2].text and pan not in run.receipts[2].text
            peers_decode(run)

            link = await Link.open("127.0.0.1", rig.service.port)
            try:
                assert await link.send_raw(run.wires[1], timeout=10) == bytes(answer)
                sim = SimTerminal(1)
                assert sim.tid == "PT000001"
                second = sim.encode(sim.completion(preauth, 42500, hold["auth_code"]))
                reply = iso8583.decode(await link.send_raw(second, timeout=10), PAYTERM_1987)
                assert (reply["t"], reply["39"]) == ("0230", "94")
            finally:
                await link.close()
            assert rig.balance(pan) == before - 42500

    run_async(go())


def test_card_removed_mid_transaction(tmp_path: Path) -> None:
    """The contact card is pulled out in the middle of its answers: the
    kernel ends the application, the terminal sees the slot empty, shows
    CARD REMOVED and sends nothing to the host."""

    async def go() -> None:
        async with running_rig(tmp_path) as rig:
            run = await rig.terminal(
                [{"op": "sale", "amount": 30000, "card": "insert", "pins": ["1234"]}],
                nfc_card=None,
                contact_card="contact_online_pin",
                contact_remove_after=400,
                fast_card=True,  # 10x the card clock: the T=1 retries time out sooner
                receipts=1,
            )
            (result,) = run.results
            assert (result["result"], result["message"], result["contact_outcome"]) == (
                "declined",
                "card_removed",
                "end_application",
            )
            assert run.requests == []
            assert rig.sql("SELECT COUNT(*) FROM transactions") == [(0,)]
            assert "CARD REMOVED, TRY AGAIN" in [s["text"] for s in run.screens]
            assert "DECLINED" in run.receipts[0].text

    run_async(go())


def test_online_pin_from_the_secure_element(tmp_path: Path) -> None:
    """The PIN block made by the secure element emulator (hsm_sim/se) over the
    sim board's I2C bus: terminal 1's initial DUKPT key loaded as a TR-31
    block under the SE's TEST KBPK; the host verifies the PIN through the
    HSM (00), and a wrong one gets 55 with the next KSN."""
    from se_support import SeServer, dukpt_block

    async def go() -> None:
        keys = {
            "se": True,
            "mac": seed.terminal_mac_key("PT000001").hex(),
            "dukpt_block": dukpt_block(ikid=seed.dukpt_ikid(1), bdk=seed.test_bdk()),
        }
        se = SeServer(tmp_path / "se.json")
        try:
            async with running_rig(tmp_path) as rig:
                run = await rig.terminal(
                    [
                        {"op": "sale", "amount": 30000, "card": "insert", "pins": ["1234"]},
                        {"op": "sale", "amount": 20000, "card": "insert", "pins": ["4321"]},
                    ],
                    nfc_card=None,
                    contact_card="contact_online_pin",
                    se_port=se.port,
                    keys=keys,
                    receipts=3,
                )
                ok, wrong = run.results
                assert (ok["code"], wrong["code"]) == ("00", "55"), run.stdout
                first, second = run.requests
                assert first["53"] == "0402" + (seed.dukpt_ikid(1).hex() + "00000001").upper()
                assert second["53"][-8:] == "00000002"
                peers_decode(run)
        finally:
            se.close()

    run_async(go())


def test_offline_pin_tries_exhausted_then_wrong_online_pin(tmp_path: Path) -> None:
    """contact_offline_pin, three wrong offline PINs: the card's PIN try
    counter runs out (TVR: PIN try limit exceeded), the CVM list falls back
    to online PIN, the fourth PIN is wrong too: 55, INCORRECT PIN."""

    async def go() -> None:
        async with running_rig(tmp_path) as rig:
            run = await rig.terminal(
                [
                    {
                        "op": "sale",
                        "amount": 60000,
                        "card": "insert",
                        "pins": ["1111", "2222", "3333", "4444"],
                    }
                ],
                nfc_card=None,
                receipts=1,
            )
            (result,) = run.results
            assert (result["code"], result["message"], result["cvm_text"]) == (
                "55",
                "incorrect_pin",
                "ONLINE PIN",
            )
            assert int(result["tvr"][4:6], 16) & 0x20  # TVR byte 3: PIN try limit exceeded
            assert [s["message"] for s in run.screens].count("pin") == 4
            (request,) = run.requests
            assert "52" in request
            peers_decode(run)

    run_async(go())
