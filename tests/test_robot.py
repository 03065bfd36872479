"""Run the Robot Framework suites (robot/suites/): the command line, and the
terminal on the sim board through the real CLI and real MicroPython. Each
suite also runs once with a broken expectation, which must fail the run:
a suite that cannot fail proves nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from robot.api import ExecutionResult

import robot

PAYTERM = Path(sys.executable).parent / "payterm"

ROBOT_DIR = Path(__file__).resolve().parent.parent / "robot"


def _run(
    suite: str, out: Path, *variables: str, test: str | None = None
) -> tuple[int, dict[str, tuple[str, str]]]:
    """Runs robot/suites/SUITE.robot; returns robot's exit code and, per
    test, its status and message as output.xml records them."""
    options: dict[str, object] = {
        "outputdir": str(out),
        "variable": [f"PAYTERM:{PAYTERM}", *variables],
        "loglevel": "INFO",
        "console": "quiet",
        "report": "NONE",
    }
    if test is not None:
        options["test"] = test
    rc = robot.run(str(ROBOT_DIR / "suites" / f"{suite}.robot"), **options)
    result = ExecutionResult(str(out / "output.xml"))
    tests = {t.name: (t.status, t.message) for t in result.suite.all_tests}
    if result.suite.setup and result.suite.setup.status == "FAIL":
        tests["(suite setup)"] = ("FAIL", result.suite.setup.message)
    return rc, tests


def _all_passed(rc: int, tests: dict[str, tuple[str, str]], out: Path, count: int) -> None:
    failed = {name: msg for name, (status, msg) in tests.items() if status != "PASS"}
    assert rc == 0 and not failed, f"{rc} robot test(s) failed: {failed}; see {out}/log.html"
    assert len(tests) == count, sorted(tests)


def test_cli_suite(tmp_path: Path) -> None:
    rc, tests = _run("cli", tmp_path)
    _all_passed(rc, tests, tmp_path, 6)


def test_fiscal_suite(tmp_path: Path) -> None:
    """`payterm demo`; its export verifies (5 records), a flipped byte names
    record 3 (exit 1), the flash image exports to the same bytes, a receipt
    QR read by zbar verifies (exit 0), malformed ones are bad input (2)."""
    rc, tests = _run("fiscal", tmp_path)
    _all_passed(rc, tests, tmp_path, 5)


def test_terminal_suite(tmp_path: Path) -> None:
    """`payterm fw run --app firmware.app -- SESSION.json`: sign-on, a tap
    and an insert approved online with auth codes, the batch closed;
    `payterm fw traces --out`: one file per card transaction, no PAN in
    clear, the PIN in no RESULT or UI line and masked in the VERIFY; a bad
    TRACE line: exit 2 naming the line."""
    rc, tests = _run("terminal", tmp_path)
    _all_passed(rc, tests, tmp_path, 8)


def test_service_suite(tmp_path: Path) -> None:
    """A fiscalised firmware.app idling on its service port under `payterm
    fw run`: `fiscal status --port`, a stranger's key refused, `fiscal
    export --port --key`, the app's service step ends on logout, the export
    verifies with its signed trailer."""
    rc, tests = _run("service", tmp_path)
    _all_passed(rc, tests, tmp_path, 5)


@pytest.mark.parametrize(
    ("suite", "variable", "test", "message"),
    [
        # tag 81 where the AIP (82) was: the decoder names another tag
        (
            "cli",
            "GPO_FORMAT_2:770A81025C00940408010100",
            "TLV Decode Names EMV Tags",
            "Application Interchange Profile",
        ),
        ("fiscal", "DEMO_RECORDS:6", "The Demo Export Verifies Without A Trailer", "5 != 6"),
        ("terminal", "TAP_KERNEL:2", "A Tap Is Approved Online", "3 != 2"),
        ("service", "RECORDS:3", "Status Over The Service Port", "2 != 3"),
    ],
    ids=["cli", "fiscal", "terminal", "service"],
)
def test_a_broken_expectation_fails_the_suite(
    tmp_path: Path, suite: str, variable: str, test: str, message: str
) -> None:
    """One expectation changed on the command line (`--variable`): the run
    exits non-zero and the test holding that expectation is the one that
    failed, with the mismatch in its message."""
    rc, tests = _run(suite, tmp_path, variable, test=test)
    assert rc >= 1, f"the {suite} suite passed with {variable}"
    status, msg = tests[test]
    assert status == "FAIL" and message in msg, (status, msg)
