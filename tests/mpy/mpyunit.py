# Minimal test harness that runs under MicroPython (and CPython).
# A test module defines test_* functions; main() runs them in name order and
# prints "PASS name" or "FAIL name: error" for each, then exits 1 on failure.
import sys


def eq(got, want, what=""):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what, got, want))


def raises(exc_type, fn, *args):
    try:
        fn(*args)
    except exc_type as e:
        return e
    raise AssertionError("%s not raised by %r%r" % (exc_type.__name__, fn, args))


def load_json(path):
    import json

    with open(path) as f:
        return json.load(f)


def main(module):
    names = sorted(n for n in dir(module) if n.startswith("test_"))
    failed = 0
    for name in names:
        try:
            getattr(module, name)()
            print("PASS " + name)
        except Exception as e:
            failed += 1
            print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
            sys.print_exception(e) if hasattr(sys, "print_exception") else None
    if not names:
        print("FAIL no tests in module")
        failed = 1
    sys.exit(1 if failed else 0)
