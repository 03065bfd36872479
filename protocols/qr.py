"""QR Code symbol encoder (ISO/IEC 18004:2015), for MicroPython and CPython.

``encode(data, ecc="M", version=None, mask=None, mode=None)`` returns a
``QRCode`` whose ``matrix`` is a list of ``size`` bytearrays of 0/1 modules
(1 = dark), without the quiet zone.  Numeric, alphanumeric and byte mode, one
segment, no ECI header; versions 1-40, error correction levels L/M/Q/H.

Mask choice (7.8.3): the lowest total penalty N1 + N2 + N3 + N4, ties going
to the lower mask number, evaluated on the masked symbol before the format and
version information are written (those modules and the dark module count as
light).  N3 counts each 1:1:3:1:1 finder-like run (dark-light-dark-dark-dark-
light-dark) that has four light modules on at least one side, the area outside
the symbol counting as light; scanning a row (column) from its start, a run
that overlaps the previous counted run is not counted again.  This is how
segno 1.6.6 reads the rule, so both pick the same mask.

Padding follows 7.4.10: 0 bits up to the next codeword boundary only, then
the pad codewords.  segno 1.6.6 adds a whole 0x00 codeword when the stream
already ends on a boundary (heuer/segno#148), which in byte mode is every
symbol that is not full; with that corrected, its matrices equal ours for
every version, level and mask (tests/test_qr.py).

Speed on the device: the penalty works on whole rows and columns packed into
integers (one bit a module), so each rule is a handful of shifts and ANDs per
line instead of a Python loop per module; arbitrary precision ints (the MPZ
implementation every mainstream port has) are required from version 3 on.
"""

from protocols.errors import EncodeError
from protocols.qr_tables import ALIGNMENT_CENTRES, BLOCK_FIELDS, BLOCKS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

ECC_LEVELS = "LMQH"
MODES = ("numeric", "alphanumeric", "byte")
ALPHANUMERIC_CHARSET = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

# Table 12: the two error correction bits of the format information.
_FORMAT_ECC_BITS = (1, 0, 3, 2)
_FORMAT_GENERATOR = 0x537  # BCH(15,5): x^10 + x^8 + x^5 + x^4 + x^2 + x + 1
_FORMAT_XOR_MASK = 0x5412
_VERSION_GENERATOR = 0x1F25  # BCH(18,6): x^12 + x^11 + x^10 + x^9 + x^8 + x^5 + x^2 + 1
# Table 2: mode indicators; Table 3: character count bits for versions
# 1-9, 10-26, 27-40.
_MODE_INDICATOR = (0x1, 0x2, 0x4)
_COUNT_BITS = ((10, 12, 14), (9, 11, 13), (8, 16, 16))
_PAD_CODEWORDS = (0xEC, 0x11)

# Penalty weights of 7.8.3.1.
_N1 = 3
_N2 = 3
_N3 = 40
_N4 = 10

# Matrix cells while the symbol is built, as ASCII digits so that a row turns
# into an integer with int(row, 2): function modules are "0"/"1", encoding
# region modules "2"/"3" (light/dark).
_LIGHT = 0x30
_DARK = 0x31
_DATA_LIGHT = 0x32
_DATA_DARK = 0x33


def _galois_tables() -> "tuple[bytearray, bytearray]":
    # GF(256) with the QR field polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11D).
    # The antilog table is doubled so a product never needs "mod 255".
    exp = bytearray(512)
    log = bytearray(256)
    value = 1
    for power in range(255):
        exp[power] = value
        log[value] = power
        value <<= 1
        if value & 0x100:
            value ^= 0x11D
    for power in range(255, 512):
        exp[power] = exp[power - 255]
    return exp, log


_EXP, _LOG = _galois_tables()


def _alphanumeric_values() -> bytearray:
    values = bytearray(b"\xff" * 256)
    for index, char in enumerate(ALPHANUMERIC_CHARSET):
        values[char] = index
    return values


_ALPHANUMERIC_VALUE = _alphanumeric_values()


def _mask_condition(mask: int, i: int, j: int) -> bool:
    # Table 10; i is the row, j the column.
    if mask == 0:
        return (i + j) % 2 == 0
    if mask == 1:
        return i % 2 == 0
    if mask == 2:
        return j % 3 == 0
    if mask == 3:
        return (i + j) % 3 == 0
    if mask == 4:
        return (i // 2 + j // 3) % 2 == 0
    if mask == 5:
        return (i * j) % 2 + (i * j) % 3 == 0
    if mask == 6:
        return ((i * j) % 2 + (i * j) % 3) % 2 == 0
    return ((i + j) % 2 + (i * j) % 3) % 2 == 0


def _mask_tiles() -> "tuple[tuple[tuple[int, ...], ...], tuple[tuple[int, ...], ...]]":
    # Every mask repeats with a period dividing 12 along rows and columns, so
    # a 12x12 tile per mask describes it.  Row tiles: for row r, 12 bits with
    # column 0 as the most significant bit; column tiles: the transpose.
    by_row = []
    by_column = []
    for mask in range(8):
        rows = []
        columns = []
        for r in range(12):
            row_bits = 0
            column_bits = 0
            for c in range(12):
                row_bits = (row_bits << 1) | _mask_condition(mask, r, c)
                column_bits = (column_bits << 1) | _mask_condition(mask, c, r)
            rows.append(row_bits)
            columns.append(column_bits)
        by_row.append(tuple(rows))
        by_column.append(tuple(columns))
    return tuple(by_row), tuple(by_column)


_MASK_ROW_TILES, _MASK_COLUMN_TILES = _mask_tiles()


class QRCode:
    """An encoded QR Code symbol; ``matrix[row][column]`` is 1 for dark."""

    def __init__(self, matrix: "list[bytearray]", version: int, ecc: str, mask: int, mode: str):
        self.matrix = matrix
        self.size = len(matrix)
        self.version = version
        self.ecc = ecc
        self.mask = mask
        self.mode = mode

    def __repr__(self) -> str:
        return "QRCode(version=%d, ecc=%r, mask=%d, mode=%r, size=%d)" % (
            self.version,
            self.ecc,
            self.mask,
            self.mode,
            self.size,
        )


def _check_version(version: object) -> None:
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= 40:
        raise EncodeError("version must be 1..40: %r" % (version,), field="version")


def _level_index(ecc: object) -> int:
    if not isinstance(ecc, str) or len(ecc) != 1 or ecc.upper() not in ECC_LEVELS:
        raise EncodeError("error correction level must be L, M, Q or H: %r" % (ecc,), field="ecc")
    return ECC_LEVELS.index(ecc.upper())


def symbol_size(version: int) -> int:
    """Modules per side of a symbol of ``version`` (without quiet zone)."""
    _check_version(version)
    return 4 * version + 17


def block_structure(version: int, ecc: str) -> "tuple[int, int, int, int, int]":
    """Table 9 entry: (EC codewords per block, group-1 blocks, data codewords
    per group-1 block, group-2 blocks, data codewords per group-2 block)."""
    _check_version(version)
    start = _level_index(ecc) * BLOCK_FIELDS
    entry = BLOCKS[version - 1][start : start + BLOCK_FIELDS]
    return entry[0], entry[1], entry[2], entry[3], entry[4]


def data_capacity(version: int, ecc: str) -> int:
    """Number of data codewords of a symbol of ``version`` and ``ecc``."""
    _, blocks1, data1, blocks2, data2 = block_structure(version, ecc)
    return blocks1 * data1 + blocks2 * data2


def _count_bits(mode_index: int, version: int) -> int:
    if version < 10:
        return _COUNT_BITS[mode_index][0]
    if version < 27:
        return _COUNT_BITS[mode_index][1]
    return _COUNT_BITS[mode_index][2]


def _payload_bits(mode_index: int, length: int) -> int:
    if mode_index == 0:
        return 10 * (length // 3) + (0, 4, 7)[length % 3]
    if mode_index == 1:
        return 11 * (length // 2) + 6 * (length % 2)
    return 8 * length


def _check_charset(payload: bytes, mode_index: int) -> "int | None":
    """Offset of the first byte that ``mode_index`` cannot encode, or None."""
    if mode_index == 0:
        for offset, char in enumerate(payload):
            if char < 0x30 or char > 0x39:
                return offset
    elif mode_index == 1:
        for offset, char in enumerate(payload):
            if _ALPHANUMERIC_VALUE[char] == 0xFF:
                return offset
    return None


class _BitWriter:
    """Appends big-endian bit fields to a fixed bytearray of codewords."""

    def __init__(self, codewords: int):
        self.buffer = bytearray(codewords)
        self.length = 0  # bits written
        self._pending = 0  # bits not yet stored in a whole byte
        self._pending_count = 0

    def write(self, value: int, width: int) -> None:
        pending = (self._pending << width) | value
        count = self._pending_count + width
        position = self.length >> 3
        while count >= 8:
            count -= 8
            self.buffer[position] = (pending >> count) & 0xFF
            position += 1
        self._pending = pending & ((1 << count) - 1)
        self._pending_count = count
        self.length += width

    def flush(self) -> None:
        """Store the last partial byte, padded with 0 bits (7.4.10)."""
        if self._pending_count:
            self.buffer[self.length >> 3] = (self._pending << (8 - self._pending_count)) & 0xFF


def data_codewords(payload: bytes, mode: str, version: int, ecc: str) -> bytearray:
    """The data codewords (7.4): mode indicator, character count, data,
    terminator, padding bits and pad codewords, for one segment of ``mode``.
    EncodeError if an argument is invalid or ``payload`` does not fit."""
    if mode is None or version is None:
        raise EncodeError("data_codewords needs an explicit mode and version", field="mode")
    payload, level, mode_index = _normalize(payload, ecc, version, None, mode)
    _fit_version(payload, mode_index, level, version)
    return _data_codewords(payload, mode_index, version, level)


def _data_codewords(payload: bytes, mode_index: int, version: int, ecc: str) -> bytearray:
    capacity = data_capacity(version, ecc)
    writer = _BitWriter(capacity)
    write = writer.write
    write(_MODE_INDICATOR[mode_index], 4)
    length = len(payload)
    write(length, _count_bits(mode_index, version))
    if mode_index == 0:
        for start in range(0, length, 3):
            group = payload[start : start + 3]
            write(int(group), (0, 4, 7, 10)[len(group)])
    elif mode_index == 1:
        values = _ALPHANUMERIC_VALUE
        for start in range(0, length - 1, 2):
            write(values[payload[start]] * 45 + values[payload[start + 1]], 11)
        if length % 2:
            write(values[payload[length - 1]], 6)
    else:
        for char in payload:
            write(char, 8)
    writer.flush()
    # The terminator (up to four 0 bits, fewer if the symbol is full) and the
    # padding to a codeword boundary are zero bits, already in the buffer.
    used = (writer.length + 4 + 7) >> 3
    buffer = writer.buffer
    for index in range(used, capacity):
        buffer[index] = _PAD_CODEWORDS[(index - used) & 1]
    return buffer


def _generator_logs(degree: int) -> bytearray:
    # Coefficients (as logarithms, leading 1 omitted) of the generator
    # polynomial (x - a^0)(x - a^1)...(x - a^(degree-1)).
    coefficients = bytearray(degree + 1)
    coefficients[0] = 1
    for root in range(degree):
        # Multiply by (x + a^root): new[k] = old[k] + a^root * old[k - 1]
        # (highest power first); k runs downwards so old[k - 1] is still
        # unchanged when it is read.
        for index in range(root + 1, 0, -1):
            term = coefficients[index - 1]
            if term:
                coefficients[index] ^= _EXP[_LOG[term] + root]
    logs = bytearray(degree)
    for index in range(degree):
        # No coefficient of a generator of degree 1..254 is zero (checked in
        # tests/test_qr.py), so every one has a logarithm.
        logs[index] = _LOG[coefficients[index + 1]]
    return logs


def ec_codewords(block: "bytes | bytearray", degree: int) -> bytearray:
    """Reed-Solomon error correction codewords of one data block (7.5.2):
    the remainder of block(x) * x^degree divided by the generator polynomial."""
    if not isinstance(degree, int) or not 1 <= degree <= 254:
        raise EncodeError("EC codeword count must be 1..254: %r" % (degree,), field="degree")
    return _ec_codewords(block, 0, len(block), _generator_logs(degree))


def _ec_codewords(
    data: "bytes | bytearray", start: int, count: int, generator: bytearray
) -> bytearray:
    degree = len(generator)
    exp = _EXP
    log = _LOG
    work = bytearray(count + degree)
    work[:count] = data[start : start + count]
    degree_range = range(degree)
    for index in range(count):
        coefficient = work[index]
        if coefficient:
            coefficient_log = log[coefficient]
            base = index + 1
            for term in degree_range:
                work[base + term] ^= exp[coefficient_log + generator[term]]
    return work[count:]


def final_codewords(data: bytearray, version: int, ecc: str) -> bytearray:
    """Split ``data`` into blocks, add their EC codewords and interleave (7.6)."""
    degree, blocks1, data1, blocks2, data2 = block_structure(version, ecc)
    if len(data) != blocks1 * data1 + blocks2 * data2:
        raise EncodeError(
            "%d data codewords given, version %d-%s has %d"
            % (len(data), version, ecc, blocks1 * data1 + blocks2 * data2),
            field="data",
        )
    generator = _generator_logs(degree)
    block_count = blocks1 + blocks2
    starts = []
    lengths = []
    error_blocks = []
    start = 0
    for block in range(block_count):
        length = data1 if block < blocks1 else data2
        starts.append(start)
        lengths.append(length)
        error_blocks.append(_ec_codewords(data, start, length, generator))
        start += length
    result = bytearray(start + degree * block_count)
    position = 0
    for index in range(data2 if blocks2 else data1):
        for block in range(block_count):
            if index < lengths[block]:
                result[position] = data[starts[block] + index]
                position += 1
    for index in range(degree):
        for block in range(block_count):
            result[position] = error_blocks[block][index]
            position += 1
    return result


def format_information(ecc: str, mask: int) -> int:
    """The 15-bit format information (7.9.1), BCH coded and masked."""
    if not isinstance(mask, int) or isinstance(mask, bool) or not 0 <= mask <= 7:
        raise EncodeError("mask must be 0..7: %r" % (mask,), field="mask")
    value = (_FORMAT_ECC_BITS[_level_index(ecc)] << 3) | mask
    remainder = value << 10
    for shift in range(4, -1, -1):
        if remainder & (1 << (shift + 10)):
            remainder ^= _FORMAT_GENERATOR << shift
    return ((value << 10) | remainder) ^ _FORMAT_XOR_MASK


def version_information(version: int) -> int:
    """The 18-bit version information (7.10), BCH coded (versions >= 7)."""
    _check_version(version)
    remainder = version << 12
    for shift in range(5, -1, -1):
        if remainder & (1 << (shift + 12)):
            remainder ^= _VERSION_GENERATOR << shift
    return (version << 12) | remainder


class _Grid:
    """The symbol under construction, kept both row-major and column-major
    (as ASCII cells) so rows and columns can both be packed into ints."""

    def __init__(self, size: int):
        self.size = size
        self.rows = [bytearray(b"2" * size) for _ in range(size)]
        self.columns = [bytearray(b"2" * size) for _ in range(size)]

    def set(self, row: int, column: int, cell: int) -> None:
        self.rows[row][column] = cell
        self.columns[column][row] = cell


def _draw_function_patterns(grid: _Grid, version: int) -> None:
    size = grid.size
    put = grid.set
    # Timing patterns (6.3.5); finders and separators overwrite their ends.
    for index in range(size):
        cell = _DARK if index % 2 == 0 else _LIGHT
        put(6, index, cell)
        put(index, 6, cell)
    # Finder patterns with their separators (6.3.3, 6.3.4).
    for top, left in ((0, 0), (0, size - 7), (size - 7, 0)):
        for dr in range(-1, 8):
            row = top + dr
            if row < 0 or row >= size:
                continue
            for dc in range(-1, 8):
                column = left + dc
                if column < 0 or column >= size:
                    continue
                ring = max(abs(dr - 3), abs(dc - 3))
                put(row, column, _DARK if ring != 2 and ring != 4 else _LIGHT)
    # Alignment patterns (6.3.6), except where they would hit a finder.
    centres = ALIGNMENT_CENTRES[version - 1]
    last = len(centres) - 1
    for a, row_centre in enumerate(centres):
        for b, column_centre in enumerate(centres):
            if (a == 0 and b == 0) or (a == 0 and b == last) or (a == last and b == 0):
                continue
            for dr in range(-2, 3):
                for dc in range(-2, 3):
                    ring = max(abs(dr), abs(dc))
                    put(row_centre + dr, column_centre + dc, _LIGHT if ring == 1 else _DARK)
    # Format information areas and the dark module stay light while masks
    # are evaluated; they are written once the mask is chosen.
    for index in range(9):
        if index != 6:
            put(8, index, _LIGHT)
            put(index, 8, _LIGHT)
    for index in range(8):
        put(8, size - 1 - index, _LIGHT)
        put(size - 1 - index, 8, _LIGHT)
    if version >= 7:
        for index in range(18):
            put(size - 11 + index % 3, index // 3, _LIGHT)
            put(index // 3, size - 11 + index % 3, _LIGHT)


def _place_codewords(grid: _Grid, codewords: bytearray) -> None:
    # 7.7.3: two-module wide columns from the right, alternately upwards and
    # downwards, skipping the vertical timing pattern; modules left over
    # after the last codeword are remainder bits (0).
    size = grid.size
    rows = grid.rows
    columns = grid.columns
    total_bits = len(codewords) * 8
    bit = 0
    upward = True
    right = size - 1
    while right > 0:
        if right == 6:
            right = 5
        pair = (right, right - 1)
        for step in range(size):
            row_index = size - 1 - step if upward else step
            row = rows[row_index]
            for column in pair:
                if row[column] >= _DATA_LIGHT:
                    if bit < total_bits and (codewords[bit >> 3] << (bit & 7)) & 0x80:
                        row[column] = _DATA_DARK
                        columns[column][row_index] = _DATA_DARK
                    bit += 1
        upward = not upward
        right -= 2


def _pack(
    lines: "list[bytearray]", modules: "list[int]", region: "list[int]", release: bool
) -> None:
    """Store each line as (modules, encoding region) ints, first module
    highest.  With ``release`` the lines are dropped as they are packed so
    the grid and the ints are not both held in full.

    ``| 0`` copies each parsed int: MicroPython sizes an int parsed from a
    string for the string's length, about four times what it needs.
    """
    for index in range(len(lines) - 1, -1, -1):
        cells = bytes(lines.pop() if release else lines[index])
        modules[index] = int(cells.replace(b"2", b"0").replace(b"3", b"1"), 2) | 0
        region[index] = (
            int(cells.replace(b"1", b"0").replace(b"2", b"1").replace(b"3", b"1"), 2) | 0
        )


def _popcount_by_string(value: int) -> int:
    return bin(value).count("1")


# CPython 3.10+ counts bits natively; MicroPython's int has no bit_count.
_popcount: "Callable[[int], int]" = getattr(int, "bit_count", _popcount_by_string)


def _spread(tile: int, size: int) -> int:
    # Repeat a 12-bit tile to ``size`` bits, first module highest.
    value = tile
    width = 12
    while width < size:
        value = (value << width) | value
        width *= 2
    return value >> (width - size)


def _apply_mask(
    out: "list[int]",
    modules: "list[int]",
    region: "list[int]",
    tiles: "tuple[int, ...]",
    size: int,
) -> None:
    patterns = [_spread(tile, size) for tile in tiles]
    for index in range(size):
        out[index] = modules[index] ^ (region[index] & patterns[index % 12])


def _finder_runs(candidates: int) -> int:
    # Count N3 candidates, skipping one that overlaps the previous counted
    # run (4 or 6 modules further along the line).  The first module of the
    # line is the highest bit, so the binary string reads along the line.
    digits = bin(candidates)
    counted = 0
    last = -100
    for position in range(2, len(digits)):
        if digits[position] == "1" and position - last != 4 and position - last != 6:
            counted += 1
            last = position
    return counted


def _line_penalties(lines: "list[int]", size: int) -> "tuple[int, int]":
    """N1 and N3 points (weights applied) over rows or columns."""
    inner = (1 << (size - 1)) - 1
    n1 = 0
    n3 = 0
    for line in lines:
        same = ((line ^ (line >> 1)) ^ inner) & inner
        runs = same & (same >> 1) & (same >> 2) & (same >> 3)
        if runs:
            # A run of k >= 5 equal modules leaves k - 4 bits in ``runs``
            # and scores N1 + (k - 5) = (k - 4) + 2 points when N1 = 3.
            n1 += _popcount(runs) + (_N1 - 1) * _popcount(runs ^ (runs & (runs << 1)))
        finder = line & (line >> 2) & (line >> 3) & (line >> 4) & (line >> 6)
        if finder:
            finder ^= finder & ((line >> 1) | (line >> 5))
            if finder:
                # Higher bits are earlier modules of the line.
                dark_before = (line >> 7) | (line >> 8) | (line >> 9) | (line >> 10)
                dark_after = (line << 1) | (line << 2) | (line << 3) | (line << 4)
                finder ^= finder & dark_before & dark_after
                if finder:
                    if finder & ((finder << 4) | (finder << 6)):
                        n3 += _finder_runs(finder)
                    else:
                        n3 += _popcount(finder)
    return n1, n3 * _N3


def _penalty(rows: "list[int]", columns: "list[int]", size: int) -> int:
    full = (1 << size) - 1
    inner = full >> 1
    n2 = 0
    dark = 0
    previous = rows[0]
    dark += _popcount(previous)
    for index in range(1, size):
        row = rows[index]
        dark += _popcount(row)
        vertical = (row ^ previous) ^ full
        horizontal = ((row ^ (row >> 1)) ^ inner) & inner
        blocks = vertical & (vertical >> 1) & horizontal
        if blocks:
            n2 += _popcount(blocks)
        previous = row
    n1_rows, n3_rows = _line_penalties(rows, size)
    n1_columns, n3_columns = _line_penalties(columns, size)
    total = size * size
    n4 = abs(20 * dark - 10 * total) // total
    return n1_rows + n1_columns + _N2 * n2 + n3_rows + n3_columns + _N4 * n4


def penalty_score(matrix: "list[bytearray]") -> int:
    """Total 7.8.3.1 penalty (N1 + N2 + N3 + N4) of a square 0/1 matrix."""
    size = len(matrix)
    rows = []
    for row in matrix:
        value = 0
        for module in row:
            value = (value << 1) | (module & 1)
        rows.append(value)
    columns = []
    for column in range(size):
        value = 0
        for row in matrix:
            value = (value << 1) | (row[column] & 1)
        columns.append(value)
    return _penalty(rows, columns, size)


def _unpack(lines: "list[int]", matrix: "list[bytearray]", size: int) -> None:
    """Write packed ``lines`` into ``matrix`` rows as 0/1 modules, in place."""
    top = 1 << size
    for index in range(size):
        digits = bytes(bin(lines[index] | top)[3:], "ascii")
        matrix[index][:] = digits.replace(b"0", b"\x00").replace(b"1", b"\x01")


def _write_format_and_version(matrix: "list[bytearray]", version: int, ecc: str, mask: int) -> None:
    size = len(matrix)
    bits = format_information(ecc, mask)
    row8 = matrix[8]
    for index in range(15):
        bit = (bits >> index) & 1
        # Copy around the top-left finder: bits 0-7 down column 8 (skipping
        # the timing row), bits 8-14 leftwards along row 8.
        if index < 6:
            matrix[index][8] = bit
        elif index < 8:
            matrix[index + 1][8] = bit
        elif index == 8:
            row8[7] = bit
        else:
            row8[14 - index] = bit
        # Second copy: bits 0-7 along row 8 from the right edge, bits 8-14
        # down column 8 near the bottom.
        if index < 8:
            row8[size - 1 - index] = bit
        else:
            matrix[size - 15 + index][8] = bit
    matrix[size - 8][8] = 1  # the dark module (6.9)
    if version >= 7:
        bits = version_information(version)
        for index in range(18):
            bit = (bits >> index) & 1
            matrix[size - 11 + index % 3][index // 3] = bit
            matrix[index // 3][size - 11 + index % 3] = bit


def _choose_mode(payload: bytes) -> int:
    if not payload:
        return 2
    if _check_charset(payload, 0) is None:
        return 0
    if _check_charset(payload, 1) is None:
        return 1
    return 2


def _normalize(
    data: "bytes | str",
    ecc: str,
    version: "int | None",
    mask: "int | None",
    mode: "str | None",
) -> "tuple[bytes, str, int]":
    if isinstance(data, str):
        payload = data.encode("utf-8")
    elif isinstance(data, (bytes, bytearray, memoryview)):
        payload = bytes(data)
    else:
        raise EncodeError("data must be bytes or str, not " + type(data).__name__, field="data")
    level = ECC_LEVELS[_level_index(ecc)]
    if version is not None:
        _check_version(version)
    if mask is not None and (
        not isinstance(mask, int) or isinstance(mask, bool) or not 0 <= mask <= 7
    ):
        raise EncodeError("mask must be 0..7: %r" % (mask,), field="mask")
    if mode is None:
        mode_index = _choose_mode(payload)
    elif mode in MODES:
        mode_index = MODES.index(mode)
        bad = _check_charset(payload, mode_index)
        if bad is not None:
            raise EncodeError(
                "byte 0x%02X cannot be encoded in %s mode" % (payload[bad], mode),
                offset=bad,
                field="data",
            )
    else:
        raise EncodeError("mode must be numeric, alphanumeric or byte: %r" % (mode,), field="mode")
    return payload, level, mode_index


def _fit_version(payload: bytes, mode_index: int, ecc: str, version: "int | None") -> int:
    payload_bits = _payload_bits(mode_index, len(payload))
    candidates = range(1, 41) if version is None else (version,)
    needed = 0
    for candidate in candidates:
        needed = 4 + _count_bits(mode_index, candidate) + payload_bits
        if needed <= 8 * data_capacity(candidate, ecc):
            return candidate
    last = candidates[-1]
    raise EncodeError(
        "%d %s characters need %d bits, version %d-%s holds %d"
        % (
            len(payload),
            MODES[mode_index],
            needed,
            last,
            ecc,
            8 * data_capacity(last, ecc),
        ),
        field="data",
    )


def encode(
    data: "bytes | str",
    ecc: str = "M",
    version: "int | None" = None,
    mask: "int | None" = None,
    mode: "str | None" = None,
) -> QRCode:
    """Encode ``data`` as one QR Code symbol.

    ``str`` data is UTF-8 encoded.  ``mode=None`` picks numeric if every
    character is a digit, else alphanumeric if every character is in the
    45-character set, else byte.  ``version=None`` picks the smallest version
    that holds the data; ``mask=None`` the mask with the lowest penalty.
    Raises EncodeError on invalid arguments or data that does not fit.
    """
    payload, level, mode_index = _normalize(data, ecc, version, mask, mode)
    chosen_version = _fit_version(payload, mode_index, level, version)
    codewords = final_codewords(
        _data_codewords(payload, mode_index, chosen_version, level), chosen_version, level
    )
    size = symbol_size(chosen_version)
    # Everything the mask search keeps is allocated before the grid: on a
    # small non-moving heap (MicroPython) lists made later, among thousands
    # of short-lived ints, soon find no contiguous room.
    row_modules = [0] * size
    row_region = [0] * size
    column_modules = [0] * size
    column_region = [0] * size
    best_rows = [0] * size
    rows = [0] * size
    columns = [0] * size
    grid = _Grid(size)
    _draw_function_patterns(grid, chosen_version)
    _place_codewords(grid, codewords)
    del codewords
    if mask is None:  # columns only matter to the penalty
        _pack(grid.columns, column_modules, column_region, True)
    else:
        grid.columns = []
    # The row grid stays: its bytearrays become the output matrix.
    matrix = grid.rows
    _pack(matrix, row_modules, row_region, False)
    del grid
    best_mask = 0 if mask is None else mask
    _apply_mask(best_rows, row_modules, row_region, _MASK_ROW_TILES[best_mask], size)
    if mask is None:
        _apply_mask(columns, column_modules, column_region, _MASK_COLUMN_TILES[0], size)
        best_score = _penalty(best_rows, columns, size)
        for candidate in range(1, 8):
            _apply_mask(rows, row_modules, row_region, _MASK_ROW_TILES[candidate], size)
            _apply_mask(columns, column_modules, column_region, _MASK_COLUMN_TILES[candidate], size)
            score = _penalty(rows, columns, size)
            if score < best_score:
                best_mask = candidate
                best_score = score
                best_rows, rows = rows, best_rows
    del rows, columns, row_modules, row_region, column_modules, column_region
    _unpack(best_rows, matrix, size)
    _write_format_and_version(matrix, chosen_version, level, best_mask)
    return QRCode(matrix, chosen_version, level, best_mask, MODES[mode_index])
