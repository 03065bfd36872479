"""Terminal risk management (EMV 4.3 Book 3 §10.6: exception file, floor
limit, random transaction selection, velocity checking) and terminal action
analysis (§10.7: TAC/IAC denial, online, default)."""

from protocols import apdu, tlv
from protocols.errors import DecodeError

AAC = apdu.AAC
TC = apdu.TC
ARQC = apdu.ARQC

ALL_ONES = b"\xff\xff\xff\xff\xff"
ALL_ZEROS = b"\x00\x00\x00\x00\x00"


def random_percent(random: "object") -> int:
    """A random number 1..99 (§10.6.2) from the injected random source."""
    raw = random(2)  # type: ignore[operator]
    return (((raw[0] << 8) | raw[1]) % 99) + 1


def randomly_selected(
    amount: int, floor_limit: int, threshold: int, target: int, maximum: int, number: int
) -> bool:
    """§10.6.2 in integers: below the threshold the target percentage;
    between threshold and floor limit the percentage rises linearly from the
    target to the maximum.  ``number`` is the random number 1..99."""
    if amount >= floor_limit:
        return False
    if amount < threshold:
        return number <= target
    span = floor_limit - threshold
    # number <= target + (maximum - target) * (amount - threshold) / span
    return number * span <= target * span + (maximum - target) * (amount - threshold)


def _get_data(link: "object", tag: int) -> "bytes | None":
    reply = link.send(apdu.get_data(tag))  # type: ignore[attr-defined]
    if reply.sw != 0x9000:
        return None
    try:
        node = tlv.find(tlv.decode(reply.data), tag)
    except DecodeError:
        return None
    if node is None or len(node.value) != 2:
        return None
    return node.value


def velocity(link: "object", store: "object", tvr: "object") -> None:
    """§10.6.3: consecutive offline transactions against 9F14 / 9F23."""
    values = store.values  # type: ignore[attr-defined]
    lower = values.get(0x9F14)
    upper = values.get(0x9F23)
    if lower is None or upper is None or len(lower) != 1 or len(upper) != 1:
        return
    atc = _get_data(link, 0x9F36)
    last_online = _get_data(link, 0x9F13)
    if atc is not None:
        store.put(0x9F36, atc, "card")  # type: ignore[attr-defined]
    if last_online is not None:
        store.put(0x9F13, last_online, "card")  # type: ignore[attr-defined]
    if atc is None or last_online is None:
        tvr.set("lower_offline_limit_exceeded")  # type: ignore[attr-defined]
        tvr.set("upper_offline_limit_exceeded")  # type: ignore[attr-defined]
        return
    count = int.from_bytes(atc, "big")
    last = int.from_bytes(last_online, "big")
    if count <= last:
        tvr.set("lower_offline_limit_exceeded")  # type: ignore[attr-defined]
        tvr.set("upper_offline_limit_exceeded")  # type: ignore[attr-defined]
    else:
        if count - last > lower[0]:
            tvr.set("lower_offline_limit_exceeded")  # type: ignore[attr-defined]
        if count - last > upper[0]:
            tvr.set("upper_offline_limit_exceeded")  # type: ignore[attr-defined]
    if last == 0:
        tvr.set("new_card")  # type: ignore[attr-defined]


def terminal_risk_management(
    link: "object",
    store: "object",
    tvr: "object",
    aid: "object",
    config: "object",
    amount: int,
    random: "object",
) -> None:
    pan = store.values.get(0x5A)  # type: ignore[attr-defined]
    exceptions = config.options.get("exception_file") or ()  # type: ignore[attr-defined]
    if pan is not None and pan.hex().upper().rstrip("F") in exceptions:
        tvr.set("exception_file")  # type: ignore[attr-defined]
    if amount >= aid.floor_limit:  # type: ignore[attr-defined]
        tvr.set("floor_limit_exceeded")  # type: ignore[attr-defined]
    elif config.option("random_selection"):  # type: ignore[attr-defined]
        number = random_percent(random)
        if randomly_selected(
            amount,
            aid.floor_limit,  # type: ignore[attr-defined]
            aid.random_threshold,  # type: ignore[attr-defined]
            aid.random_target,  # type: ignore[attr-defined]
            aid.random_max,  # type: ignore[attr-defined]
            number,
        ):
            tvr.set("random_selection")  # type: ignore[attr-defined]
    if config.option("velocity_checking"):  # type: ignore[attr-defined]
        velocity(link, store, tvr)


def _or(a: bytes, b: bytes) -> bytes:
    return bytes(a[i] | b[i] for i in range(5))


def _code(store: "object", tag: int, default: bytes) -> bytes:
    value = store.values.get(tag)  # type: ignore[attr-defined]
    return value if value is not None and len(value) == 5 else default


def action_analysis(store: "object", tvr: "object", aid: "object", online_capable: bool) -> int:
    """§10.7: the cryptogram to ask for in the first GENERATE AC."""
    denial = _or(aid.tac_denial, _code(store, 0x9F0E, ALL_ZEROS))  # type: ignore[attr-defined]
    if tvr.any_of(denial):  # type: ignore[attr-defined]
        return AAC
    if online_capable:
        online = _or(aid.tac_online, _code(store, 0x9F0F, ALL_ONES))  # type: ignore[attr-defined]
        return ARQC if tvr.any_of(online) else TC  # type: ignore[attr-defined]
    return default_action(store, tvr, aid)


def default_action(store: "object", tvr: "object", aid: "object") -> int:
    """§10.7: offline-only terminal, or online processing not possible."""
    default = _or(aid.tac_default, _code(store, 0x9F0D, ALL_ONES))  # type: ignore[attr-defined]
    return AAC if tvr.any_of(default) else TC  # type: ignore[attr-defined]
