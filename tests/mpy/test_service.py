# The technician service (firmware/service) under MicroPython with a fake
# UART, a fake journal and a settable clock: every answer is checked byte
# for byte.  Expected frames are written out in hex; their CRCs were computed
# with CPython's binascii.crc_hqx(data, 0xFFFF) (CRC-16/CCITT-FALSE), and the
# technician signatures with the `cryptography` package (ECDSA P-256 over
# "PTSV-AUTH1" | challenge | dev_len | device_id), not with our code.
from mpyunit import eq, raises

from firmware.service import Service
from protocols.p256 import P256Error


def h(text):
    return bytes(int(text[i : i + 2], 16) for i in range(0, len(text), 2))


TECH_PUB = h(
    "04330E9F4EC504D64B854C36EBAE1CF86EE4A9401B19E6B194C77ECBAA299C2156247F0F3629F3A3C4C1377D"
    "FC48B3E8D403FA80ED25F278900844302E28FC310B"
)
REQ_AUTH_OTHER_C1 = h(
    "50531100403EECF8E3219ED1358D16160E4B13EFC32329BF863A4DDB783007BA3EF988D69D579470CEF8811E"
    "ED2452D0BD99F4BB002679B3053989D422570AD1B7DC4D12CDD590"
)
REQ_AUTH_TECH_C1 = h(
    "50531100409407737A7643C488ACCD9451DCD6B39D52F67C0A5F4EF142D707C59CC7BDF9BBA78EDF582FDC94"
    "84204FFA041943806D0207E219030CFDADAF792C174CB87399D2CA"
)
REQ_AUTH_TECH_C3 = h(
    "50531100408A8E69B1CE1C82060934FC8ED1565F4F71BE979B41FDF4E40AAFD44F7248F03F03DE9FEFB925D6"
    "1CB07DDD810765FF73A240B9C57FCD6E7CA477C023BCD650CC2AEF"
)
RSP_C3 = h("5053000010303132333435363738393A3B3C3D3E3F33AE")
REQ_HELLO = h("5053010000FBAC")
REQ_STATUS = h("5053020000A2FC")
REQ_CHALLENGE = h("50531000008FFF")
REQ_LOGOUT = h("5053120000E19F")
REQ_EXPORT = h("50532000004A5A")
RSP_HELLO = h(
    "50530000527B2261757468656E74696361746564223A66616C73652C226465766963655F6964223A2250542D"
    "5356432D3031222C2270726F746F636F6C223A312C2276657273696F6E223A2266772D746573742031227DD2"
    "17"
)
RSP_HELLO_AUTH = h(
    "50530000517B2261757468656E74696361746564223A747275652C226465766963655F6964223A2250542D53"
    "56432D3031222C2270726F746F636F6C223A312C2276657273696F6E223A2266772D746573742031227D9866"
)
RSP_STATUS = h(
    "50530000797B2261757468656E74696361746564223A66616C73652C226465766963655F6964223A2250542D"
    "5356432D3031222C2266726565223A3930303030302C226C6F636B6564223A66616C73652C22736571223A33"
    "2C2276657273696F6E223A2266772D746573742031222C227761726E696E67223A6E756C6C7DE9CB"
)
RSP_NOT_AUTH = h("50538300114558504F5254206E6565647320415554486565")
RSP_C1 = h("5053000010101112131415161718191A1B1C1D1E1FB90C")
RSP_C2 = h("5053000010202122232425262728292A2B2C2D2E2F76FF")
RSP_AUTH_BAD = h("50538400197369676E617475726520646F6573206E6F7420766572696679AD15")
RSP_AUTH_NOCH = h("50538400186E6F206368616C6C656E6765206F75747374616E64696E672301")
RSP_OK = h("5053000000CC9C")
RSP_DATA1 = h("50530100105054465801000102030405060708090A8AB4")
RSP_DATA2 = h("50530100100B0C0D0E0F101112131415161718191ACEB4")
RSP_DATA3 = h("50530100081B1C1D1E1F2021224CFF")
RSP_EXPORT_END = h(
    "50530000250000002830D6ADCE67A7E62C15953F17FE873153F416F8F428436F5DBD4F1C4CD1C5B980013118"
)
RSP_GARBAGE = h(
    "5053800041626164206672616D653A2037206279746573206F7574736964652061206672616D652064726F70"
    "70656420286669656C642053594E432C206F66667365742030295BC2"
)
REQ_BAD_CRC = h("505301000378797ACCD8")
RSP_BAD_CRC = h(
    "5053800033626164206672616D653A2043524320646F6573206E6F74206D6174636820286669656C64204352"
    "432C206F6666736574203829DA0E"
)
RSP_CUT = h("50538000206672616D65206375742073686F72743A20332062797465732064726F70706564FC4A")
REQ_UNKNOWN = h("50537F000038A5")
RSP_UNKNOWN = h("5053810014756E6B6E6F776E20636F6D6D616E6420307837669997")
REQ_HELLO_X = h("5053010001783EDA")
RSP_HELLO_X = h("505382001648454C4C4F2074616B6573206E6F207061796C6F6164CD88")
REQ_AUTH_SHORT = h("5053110003616263573E")
RSP_AUTH_SHORT = h(
    "5053820024415554482074616B657320612036342D62797465207369676E61747572652028727C73296265"
)
RSP_EXPORT_FAILED = h("50538500196578706F7274206661696C65643A20666C61736820676F6E6590F8")
RSP_NO_RANDOM = h("505385001A6E6F2072616E646F6D20736F757263653A20726E6720646F776E4C77")


class FakeStream:
    """A UART: ``rx`` is what the technician sent (served by any/read),
    ``tx`` the frames the terminal wrote, one entry per write."""

    def __init__(self):
        self.rx = b""
        self.tx = []
        self.peers = 1

    def any(self):
        return len(self.rx)

    def read(self, n):
        data, self.rx = self.rx[:n], self.rx[n:]
        return data or None

    def write(self, buf):
        self.tx.append(bytes(buf))
        return len(buf)

    def take(self):
        out, self.tx = self.tx, []
        return out


class FakeJournal:
    device_id = "PT-SVC-01"

    def __init__(self):
        self.exports = []
        self.fail = None

    def status(self):
        return {"device_id": self.device_id, "seq": 3, "free": 900000, "locked": False}

    def warning(self):
        return None

    def export(self, out, now):
        self.exports.append(now)
        if self.fail:
            raise ValueError(self.fail)
        out.write(b"PTFX\x01")
        out.write(bytes(range(20)))
        out.write(bytes(range(20, 35)))
        return True


class FakeClock:
    def __init__(self):
        self.ms = 1000
        self.t = 1767225600

    def ticks_ms(self):
        return self.ms

    def ticks_diff(self, a, b):
        return a - b

    def now(self):
        return self.t


class Rng:
    def __init__(self):
        self.next = 0x10
        self.down = False

    def __call__(self, n):
        if self.down:
            raise OSError("rng down")
        out = bytes(range(self.next, self.next + n))
        self.next += n
        return out


def make(chunk=16):
    s, j, c, r = FakeStream(), FakeJournal(), FakeClock(), Rng()
    svc = Service(s, j, c, TECH_PUB, r, "fw-test 1", idle_ms=60000, frame_ms=1000, chunk=chunk)
    return svc, s, j, c, r


def ask(svc, s, req):
    s.rx += req
    eq(svc.poll(), True, "answered")
    return s.take()


def login(svc, s):
    """Spend challenges 1 and 2, authenticate on challenge 3."""
    eq(ask(svc, s, REQ_CHALLENGE), [RSP_C1], "challenge 1")
    eq(ask(svc, s, REQ_CHALLENGE), [RSP_C2], "challenge 2")
    eq(ask(svc, s, REQ_CHALLENGE), [RSP_C3], "challenge 3")
    eq(ask(svc, s, REQ_AUTH_TECH_C3), [RSP_OK], "authenticated")


def test_hello_and_status_are_open():
    svc, s, _j, _c, _r = make()
    eq(svc.poll(), False, "nothing pending")
    eq(s.take(), [], "silent")
    eq(ask(svc, s, REQ_HELLO), [RSP_HELLO], "HELLO")
    eq(ask(svc, s, REQ_STATUS), [RSP_STATUS], "STATUS")


def test_export_refused_without_auth():
    svc, s, j, _c, _r = make()
    eq(ask(svc, s, REQ_EXPORT), [RSP_NOT_AUTH], "EXPORT")
    eq(j.exports, [], "journal not exported")


def test_challenge_auth_export_logout():
    svc, s, j, c, _r = make()
    eq(ask(svc, s, REQ_CHALLENGE), [RSP_C1], "challenge 1")
    eq(ask(svc, s, REQ_AUTH_OTHER_C1), [RSP_AUTH_BAD], "another technician key")
    eq(ask(svc, s, REQ_AUTH_TECH_C1), [RSP_AUTH_NOCH], "a challenge is good for one AUTH")
    eq(ask(svc, s, REQ_EXPORT), [RSP_NOT_AUTH], "still refused")
    eq(ask(svc, s, REQ_CHALLENGE), [RSP_C2], "challenge 2")
    eq(ask(svc, s, REQ_AUTH_TECH_C1), [RSP_AUTH_BAD], "replayed answer to challenge 1")
    eq(ask(svc, s, REQ_CHALLENGE), [RSP_C3], "challenge 3")
    eq(ask(svc, s, REQ_AUTH_TECH_C3), [RSP_OK], "authenticated")
    eq(ask(svc, s, REQ_HELLO), [RSP_HELLO_AUTH], "HELLO says so")
    c.t += 5
    eq(ask(svc, s, REQ_EXPORT), [RSP_DATA1, RSP_DATA2, RSP_DATA3, RSP_EXPORT_END], "EXPORT")
    eq(j.exports, [1767225605], "exported with the clock's time")
    eq(ask(svc, s, REQ_LOGOUT), [RSP_OK], "LOGOUT")
    eq(ask(svc, s, REQ_EXPORT), [RSP_NOT_AUTH], "refused after LOGOUT")
    eq(j.exports, [1767225605], "exported once")


def test_a_new_challenge_ends_the_session():
    svc, s, _j, _c, _r = make()
    login(svc, s)
    s.rx += REQ_CHALLENGE
    svc.poll()
    s.take()
    eq(ask(svc, s, REQ_EXPORT), [RSP_NOT_AUTH], "EXPORT")


def test_new_peer_and_idle_end_the_session():
    svc, s, _j, c, _r = make()
    login(svc, s)
    s.peers += 1  # the cable re-plugged
    eq(ask(svc, s, REQ_EXPORT), [RSP_NOT_AUTH], "new peer")
    svc, s, _j, c, _r = make()
    login(svc, s)
    c.ms += 60001
    eq(ask(svc, s, REQ_EXPORT), [RSP_NOT_AUTH], "idle")


def test_malformed_frames_answered_and_serving_goes_on():
    svc, s, _j, c, _r = make()
    s.rx += b"hello\r\n" + REQ_HELLO
    eq(svc.poll(), True, "garbage answered")
    eq(s.take(), [RSP_GARBAGE], "garbage")
    eq(svc.poll(), True, "HELLO served on the next poll")
    eq(s.take(), [RSP_HELLO], "HELLO after garbage")
    eq(ask(svc, s, REQ_BAD_CRC), [RSP_BAD_CRC], "bad CRC")
    eq(ask(svc, s, REQ_UNKNOWN), [RSP_UNKNOWN], "unknown command")
    eq(ask(svc, s, REQ_HELLO_X), [RSP_HELLO_X], "HELLO with a payload")
    eq(ask(svc, s, REQ_AUTH_SHORT), [RSP_AUTH_SHORT], "short AUTH")
    s.rx += REQ_HELLO[:3]
    eq(svc.poll(), False, "a frame under way")
    c.ms += 1001
    eq(svc.poll(), True, "inter-byte timeout")
    eq(s.take(), [RSP_CUT], "cut short")
    eq(ask(svc, s, REQ_HELLO), [RSP_HELLO], "still serving")
    eq(svc.errors, 3, "errors counted")


def test_one_request_per_poll():
    svc, s, _j, _c, _r = make()
    s.rx += REQ_HELLO + REQ_STATUS
    eq(svc.poll(), True, "first")
    eq(s.take(), [RSP_HELLO], "HELLO first")
    eq(svc.poll(), True, "second")
    eq(s.take(), [RSP_STATUS], "then STATUS")
    eq(svc.poll(), False, "then nothing")


def test_failures_are_protocol_errors():
    svc, s, j, _c, r = make()
    r.down = True
    eq(ask(svc, s, REQ_CHALLENGE), [RSP_NO_RANDOM], "no RNG")
    r.down = False
    login(svc, s)
    j.fail = "flash gone"
    eq(ask(svc, s, REQ_EXPORT), [RSP_EXPORT_FAILED], "export failed")
    eq(ask(svc, s, REQ_HELLO), [RSP_HELLO_AUTH], "still serving")


def test_bad_technician_key_refused_at_construction():
    bad = bytearray(TECH_PUB)
    bad[64] ^= 1
    raises(P256Error, Service, FakeStream(), FakeJournal(), FakeClock(), bytes(bad), Rng())
