# The physical boards' HALs (esp32s3_pos, stm32f4_ecr) imported on the unix
# port under a recording fake `machine` (tests/mpy/fake_machine): every bus is
# constructed with the ids, pins and rates of the board data; panels, keypad,
# indicators and flash drivers put the exact bytes on their buses; littlefs
# runs on the fiscal flash drivers over simulated chips.
import os
import sys

sys.path.insert(0, "fake_machine")

import esp32
import fake_parts
import machine
import pyb
from mpyunit import eq, raises

import boards
from boards.common.spiflash import SpiNorFlash

MP = "/fiscal_test"


def _fresh(name):
    machine.reset()
    return boards.load(name), boards.open_board(name)


def _umount(where=MP):
    try:
        os.umount(where)
    except OSError:
        pass


def _one(kind):
    made = machine.created(kind)
    eq(len(made), 1, "one %s constructed" % kind)
    return made[0]


def _transactions(spi_id):
    # Split the event log into (dc level, bytes) writes on one SPI bus.
    dc = {}
    out = []
    level = {}
    for ev in machine.EVENTS:
        if ev[0] == "Pin":
            level[ev[1]] = ev[2]
        elif ev[0] == "SPI" and ev[1] == spi_id and isinstance(ev[2], bytes):
            dc = level
            out.append((dict(dc), ev[2]))
    return out


def test_fake_machine_is_the_one_imported():
    eq(getattr(machine, "FAKE", False), True, "fake machine on path")
    eq(machine.__file__.find("fake_machine") >= 0, True, "machine from fake_machine/")


def test_esp32s3_every_bus_built_from_board_data():
    cfg, board = _fresh("esp32s3_pos")
    buses = cfg["buses"]
    for name in sorted(buses):
        spec = buses[name]
        if spec["kind"] == "usb_cdc":
            continue
        machine.reset()
        obj = board.bus(name)
        pins = spec["pins"]
        if spec["kind"] == "uart":
            args, kw = _one("UART")
            eq(args, (spec["id"],), name + " id")
            eq(kw["baudrate"], spec["baudrate"], name + " baud")
            eq(
                (kw["bits"], kw["parity"], kw["stop"]),
                (spec["bits"], spec["parity"], spec["stop"]),
                name + " frame",
            )
            eq((kw["tx"], kw["rx"]), (pins["tx"], pins["rx"]), name + " pins")
        elif spec["kind"] == "i2c":
            args, kw = _one("I2C")
            eq(args, (spec["id"],), name + " id")
            eq(
                (kw["scl"].id, kw["sda"].id, kw["freq"]),
                (pins["scl"], pins["sda"], spec["freq"]),
                name,
            )
        elif spec["kind"] == "spi":
            args, kw = _one("SPI")
            eq(args, (spec["id"],), name + " id")
            got = (kw["sck"].id, kw["mosi"].id, kw["miso"].id, kw["baudrate"])
            eq(got, (pins["sck"], pins["mosi"], pins["miso"], spec["freq"]), name)
        eq(board.bus(name) is obj, True, name + " cached")
    # roles map to the buses the data names
    eq(board.bus_for("nfc").id, 1, "PN532 on UART1")
    eq(board.bus_for("nfc").kw["baudrate"], 115200, "PN532 HSU 115200")
    eq(board.bus_for("printer").id, 2, "printer on UART2")
    eq(board.bus_for("card_reader").kw["parity"], 0, "card reader 8E2")
    eq(board.bus_for("secure_element").id, 0, "SE on I2C0")


def test_esp32s3_service_port_is_usb_cdc():
    _cfg, board = _fresh("esp32s3_pos")
    port = board.bus_for("service")
    eq(type(port).__name__, "StdioUart", "service port type")
    eq(port.read(0), b"", "zero-length read")
    port.deinit()


def test_stm32_buses_take_ids_and_rates_not_pins():
    cfg, board = _fresh("stm32f4_ecr")
    for name in sorted(cfg["buses"]):
        spec = cfg["buses"][name]
        machine.reset()
        board.bus(name)
        if spec["kind"] == "uart":
            args, kw = _one("UART")
            eq(args, (spec["id"],), name)
            eq(kw["baudrate"], spec["baudrate"], name + " baud")
            eq("tx" in kw or "rx" in kw, False, name + ": stm32 pins are fixed")
        elif spec["kind"] == "i2c":
            args, kw = _one("I2C")
            eq((args, kw), ((spec["id"],), {"freq": spec["freq"]}), name)
        else:
            args, kw = _one("SPI")
            eq(args, (spec["id"],), name)
            eq(kw, {"baudrate": spec["freq"], "polarity": 0, "phase": 0}, name)
    eq(board.bus_for("printer").kw["baudrate"], 9600, "ECR printer at 9600")
    eq(board.bus_for("nfc").id, 4, "PN532 on UART4 (X1/X2)")
    eq(board.bus_for("service").id, 6, "service on UART6 (Y1/Y2)")


def test_esp32s3_ili9341_init_and_push_bytes():
    _cfg, board = _fresh("esp32s3_pos")
    panel = board.display()
    eq((panel.width, panel.height, panel.format), (320, 240, "RGB565"), "geometry")
    tx = _transactions(1)
    cmds = [(d[9], b) for d, b in tx]  # dc pin is GPIO9
    eq(
        cmds,
        [
            (0, b"\x01"),
            (0, b"\x11"),
            (0, b"\x3a"),
            (1, b"\x55"),
            (0, b"\x36"),
            (1, b"\x28"),
            (0, b"\x29"),
        ],
        "ILI9341 init",
    )
    del machine.EVENTS[:]
    panel.push(10, 20, 2, 1, b"\x12\x34\x56\x78")
    cmds = [(d[9], b) for d, b in _transactions(1)]
    eq(
        cmds,
        [
            (0, b"\x2a"),
            (1, b"\x00\x0a\x00\x0b"),
            (0, b"\x2b"),
            (1, b"\x00\x14\x00\x14"),
            (0, b"\x2c"),
            (1, b"\x12\x34\x56\x78"),
        ],
        "window + RAMWR",
    )
    # chip select framed every transfer
    cs_levels = [ev[2] for ev in machine.EVENTS if ev[0] == "Pin" and ev[1] == 10]
    eq(cs_levels, [0, 1] * 3, "CS low/high around each command")
    raises(ValueError, panel.push, 319, 0, 2, 1, b"\x00" * 4)
    raises(ValueError, panel.push, 0, 0, 2, 1, b"\x00" * 3)
    panel.backlight(50)
    eq(machine.EVENTS[-1], ("PWM", 21, "duty", 32767), "backlight PWM")


def test_stm32_st7565_pages():
    _cfg, board = _fresh("stm32f4_ecr")
    panel = board.display()
    eq((panel.width, panel.height, panel.format), (128, 64, "MONO_VLSB"), "geometry")
    init = [b for _d, b in _transactions(1)]
    eq(
        init,
        [bytes([c]) for c in (0xE2, 0xA2, 0xA0, 0xC8, 0x2F, 0x26, 0x81, 0x18, 0x40, 0xAF)],
        "init",
    )
    del machine.EVENTS[:]
    panel.push(20, 8, 3, 16, b"\x01\x02\x03\x04\x05\x06")
    got = [(d["C4"], b) for d, b in _transactions(1)]
    eq(
        got,
        [
            (0, b"\xb1"),
            (0, b"\x11"),
            (0, b"\x04"),
            (1, b"\x01\x02\x03"),
            (0, b"\xb2"),
            (0, b"\x11"),
            (0, b"\x04"),
            (1, b"\x04\x05\x06"),
        ],
        "pages 1-2, column 20",
    )
    raises(ValueError, panel.push, 0, 4, 8, 8, b"\x00" * 8)
    panel.backlight(0)
    eq(machine.EVENTS[-1], ("Pin", "C2", 0), "backlight GPIO")


def test_keypad_tca8418_config_and_events():
    for name, cols in (("esp32s3_pos", 0x0F), ("stm32f4_ecr", 0x1F)):
        cfg, board = _fresh(name)
        chip = fake_parts.FakeTca8418(cfg["devices"]["keypad"]["addr"])
        chip.press(0, 0)  # queued before the HAL starts: dropped
        kp = board.keypad()
        eq(
            chip.writes[:4],
            [(0x1D, b"\x0f"), (0x1E, bytes([cols])), (0x1F, b"\x00"), (0x01, b"\x01")],
            name,
        )
        eq(chip.fifo, [], name + ": stale events flushed")
        chip.press(2, 3)  # ENTER
        chip.press(2, 3, down=False)
        chip.press(7, 9)  # outside the key map: ignored
        chip.press(3, 1)  # "0"
        eq(kp.read_key(50), "ENTER", name)
        eq(kp.read_key(50), "0", name)
        eq(kp.read_key(20), None, name + ": quiet keypad times out")


def test_indicators_drive_pins():
    _cfg, board = _fresh("esp32s3_pos")
    st = board.status()
    del machine.EVENTS[:]
    st.led("green", True)
    st.beep(2000, 5)
    eq(
        machine.EVENTS,
        [
            ("Pin", 42, 1),
            ("PWM", 39, "freq", 2000),
            ("PWM", 39, "duty", 32768),
            ("PWM", 39, "duty", 0),
        ],
        "esp32 LED + passive buzzer",
    )
    raises(ValueError, st.led, "purple", True)
    _cfg, board = _fresh("stm32f4_ecr")
    st = board.status()
    del machine.EVENTS[:]
    st.led("blue", True)
    st.beep(2700, 5)
    eq(
        machine.EVENTS,
        [("Pin", "B4", 1), ("Pin", "C1", 1), ("Pin", "C1", 0)],
        "stm32 LED + active buzzer",
    )
    eq(st.log, [("led", "blue", True), ("buzzer", 2700, 5)], "log")


def test_card_reader_pins_and_clock():
    _cfg, board = _fresh("esp32s3_pos")
    pins = board.control_pins("card_reader")
    eq(sorted(pins), ["cmdvcc", "off", "rst"], "esp32 card pins")
    eq(
        (pins["off"].mode, pins["off"].pull),
        (machine.Pin.IN, machine.Pin.PULL_UP),
        "presence is an input",
    )
    board.card_clock(True)
    eq(machine.created("PWM")[-1], ((4,), {"freq": 4000000, "duty_u16": 0}), "4 MHz card clock")
    eq(machine.EVENTS[-1], ("PWM", 4, "duty", 32768), "clock running")
    _cfg, board = _fresh("stm32f4_ecr")
    board.card_clock(True)
    eq(machine.created("Timer"), [((3,), {"freq": 3500000})], "TIM3 at 3.5 MHz")
    eq(machine.EVENTS[-1], ("Timer", 3, 3, pyb.Timer.PWM, "B0", 50), "CH3 on B0")


def test_rtc_sets_posix_time():
    _cfg, board = _fresh("stm32f4_ecr")
    rtc = board.rtc()
    rtc.set(1767225600)  # 2026-01-01 00:00:00 UTC, a Thursday
    eq(rtc.datetime(), (2026, 1, 1, 3, 0, 0, 0, 0), "RTC datetime")


def test_esp32s3_fiscal_partition_littlefs():
    esp32.TABLE.clear()
    _cfg, board = _fresh("esp32s3_pos")
    raises(OSError, board.flash)  # no "fiscal" partition yet
    esp32.TABLE["fiscal"] = 128
    _cfg, board = _fresh("esp32s3_pos")
    raises(ValueError, board.flash)  # partition too small for the data's 256 blocks
    esp32.TABLE["fiscal"] = 256
    _cfg, board = _fresh("esp32s3_pos")
    try:
        where = board.mount_fiscal(MP)
        with open(where + "/z", "w") as f:
            f.write("Z-report 1")
        os.umount(MP)
        _cfg, board = _fresh("esp32s3_pos")
        board.mount_fiscal(MP, format_if_needed=False)
        with open(MP + "/z") as f:
            eq(f.read(), "Z-report 1", "read back after remount")
    finally:
        _umount()


def test_esp32s3_ota_partition_files():
    esp32.TABLE.clear()
    esp32.TABLE["fiscal"] = 256
    cfg, board = _fresh("esp32s3_pos")
    raises(OSError, board.ota_fs)  # no "ota" partition in the table
    spec = cfg["flash"]["ota"]
    eq(spec["partition_csv"], "ota, data, 0x81, 0xD00000, 0x200000", "2 MiB at 0xD00000")
    esp32.TABLE["ota"] = 511
    _cfg, board = _fresh("esp32s3_pos")
    raises(ValueError, board.ota_fs)  # one block short of the data's 512
    esp32.TABLE["ota"] = spec["block_count"]
    _cfg, board = _fresh("esp32s3_pos")
    try:
        ota = board.ota_fs(MP)
        fiscal = board.fiscal_fs(MP + "2")
        with ota.open("pending.json", "wb") as f:
            f.write(b'{"slot": "b"}')
        eq("pending.json" in fiscal.listdir(), False, "the fiscal partition is another one")
        eq(ota.statvfs()[2], 512, "512 blocks")
        fiscal.umount()
        ota.umount()
        _cfg, board = _fresh("esp32s3_pos")
        ota = board.ota_fs(MP, format_if_needed=False)
        with ota.open("pending.json") as f:
            eq(f.read(), b'{"slot": "b"}', "read back after remount")
        eq(board.ota_flash().label, "ota", "the partition labelled ota")
        ota.umount()
    finally:
        _umount()
        _umount(MP + "2")


def test_stm32_has_no_ota_area():
    cfg, board = _fresh("stm32f4_ecr")
    eq(cfg["flash"]["ota"], None, "ota: null in the data")
    e = raises(ValueError, board.ota_fs)
    eq("no OTA area" in str(e), True, "clear message: " + str(e))
    raises(ValueError, board.ota_flash)


def test_stm32_fiscal_spi_nor_littlefs():
    cfg, board = _fresh("stm32f4_ecr")
    chip = fake_parts.FakeW25Q(2, "B12", capacity_code=0x16)
    machine.record(False)
    try:
        where = board.mount_fiscal(MP)
        with open(where + "/journal", "wb") as f:
            f.write(bytes(range(256)) * 5)
        os.umount(MP)
        machine.reset()
        machine.record(False)
        board = boards.open_board("stm32f4_ecr")
        machine.SPI.devices[2] = chip
        machine.Pin.watchers["B12"] = chip.cs
        board.mount_fiscal(MP, format_if_needed=False)
        with open(MP + "/journal", "rb") as f:
            eq(f.read() == bytes(range(256)) * 5, True, "journal read back")
        eq(
            board.flash().block_count,
            cfg["flash"]["fiscal"]["block_count"],
            "block count from data",
        )
        eq(chip.ignored, 0, "every program/erase was write-enabled")
        eq(chip.while_busy, 0, "driver waited for BUSY to clear")
        eq(len([op for op in chip.ops if op[0] == 0x20]) > 0, True, "sectors erased")
    finally:
        _umount()


def test_spi_nor_program_splits_at_page_boundaries():
    machine.reset()
    chip = fake_parts.FakeW25Q(7, 70, capacity_code=0x10)
    dev = SpiNorFlash(machine.SPI(7), machine.Pin(70, machine.Pin.OUT))
    eq(dev.ioctl(4, 0), 16, "64 KiB chip = 16 sectors")
    data = bytes([(i * 5) & 0xFF for i in range(400)])
    dev.writeblocks(1, data, 200)
    eq(bytes(chip.byte(4096 + 200 + i) for i in range(400)) == data, True, "bytes land in order")
    programs = [op for op in chip.ops if op[0] == 0x02]
    eq(programs, [(2, 4096 + 200), (2, 4096 + 256), (2, 4096 + 512)], "split at 256-byte pages")
    back = bytearray(400)
    dev.readblocks(1, back, 200)
    eq(bytes(back) == data, True, "read back")
    dev.ioctl(6, 1)
    dev.readblocks(1, back, 200)
    eq(bytes(back) == b"\xff" * 400, True, "erased")
    raises(OSError, dev.readblocks, 16, back)


def test_spi_nor_littlefs_on_small_chip():
    machine.reset()
    machine.record(False)
    chip = fake_parts.FakeW25Q(7, 71, capacity_code=0x10, busy_polls=3)
    dev = SpiNorFlash(machine.SPI(7), machine.Pin(71, machine.Pin.OUT))
    try:
        os.VfsLfs2.mkfs(dev)
        os.mount(os.VfsLfs2(dev), MP)
        for i in range(4):
            with open(MP + "/r%d" % i, "w") as f:
                f.write("record %d " % i * 50)
        os.umount(MP)
        dev2 = SpiNorFlash(machine.SPI(7), machine.Pin(71, machine.Pin.OUT))
        os.mount(os.VfsLfs2(dev2), MP)
        eq(sorted(os.listdir(MP)), ["r0", "r1", "r2", "r3"], "files after remount")
        with open(MP + "/r2") as f:
            eq(f.read(), "record 2 " * 50, "content")
        eq((chip.ignored, chip.while_busy), (0, 0), "protocol respected")
    finally:
        _umount()


def test_spi_nor_rejects_absent_or_small_chip():
    machine.reset()
    raises(OSError, SpiNorFlash, machine.SPI(8), machine.Pin(80, machine.Pin.OUT))
    fake_parts.FakeW25Q(9, 90, capacity_code=0x10)
    raises(ValueError, SpiNorFlash, machine.SPI(9), machine.Pin(90, machine.Pin.OUT), 1024)
