"""The wire between the trusted test process and the candidate process of a code check. Standard library only.

Shipped as program text in front of ``_harness.py`` (see ``code_tests.HARNESS_PROGRAM``), so it imports nothing
from prime. A value crosses as JSON of tagged nodes: ``null``, booleans, numbers and strings stand for themselves;
every other node is a list whose first item is a tag (``["l", ...]`` a list, ``["t", ...]`` a tuple, ``["h", 3]``
the handle of an object that is not plain data, ...).

The candidate's side of the wire runs the candidate's code, so whatever it sends may be forged: only ``decode`` on
the trusted side makes the wire safe. It builds builtin types only (and ``Fraction``/``Decimal``/``deque`` from
plain parts), so no value the candidate sends is ever compared by the candidate's own methods.
"""

import collections
import decimal
import fractions
import json
import os

MAX_FRAME = 16 << 20  # one message; a larger one is a flood, and the peer that sent it is dropped
MAX_DEPTH = 100  # nesting of one value: deeper is refused rather than recursed into
_BIG_INT = 1 << 12000  # past about 3,600 digits JSON's int parser refuses (int_max_str_digits): sent as hex
_SCALARS = (type(None), bool, int, float, str)


class WireError(Exception):
    """A message that is not well-formed: the process that sent it can no longer be trusted to be in step."""


def encode(value, opaque, depth=0):
    """``value`` as a JSON-ready node; ``opaque(obj)`` gives the node of anything that is not plain data (a handle
    on the candidate's side, an error on the trusted side). Subclasses of builtin types cross as the builtin type:
    the receiver sees data, never the sender's methods."""
    kind = type(value)
    if kind is int:
        return value if -_BIG_INT < value < _BIG_INT else ["i", format(value, "x")]
    if value is None or kind in (bool, float, str):
        return value
    if depth > MAX_DEPTH:
        raise WireError(f"value nested deeper than {MAX_DEPTH}")
    depth += 1
    for base, tag in _SEQUENCE_TAGS:
        if isinstance(value, base):
            return [tag, *(encode(item, opaque, depth) for item in value)]
    if isinstance(value, dict):
        node = ["d"]
        for key, item in value.items():
            node += (encode(key, opaque, depth), encode(item, opaque, depth))
        return node
    if isinstance(value, int):
        return encode(int(value), opaque, depth)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, (bytes, bytearray)):
        return ["y" if isinstance(value, bytearray) else "b", bytes(value).hex()]
    if isinstance(value, complex):
        return ["c", value.real, value.imag]
    if isinstance(value, fractions.Fraction):
        return ["F", encode(int(value.numerator), opaque), encode(int(value.denominator), opaque)]
    if isinstance(value, decimal.Decimal):
        return ["D", str(value)]
    if isinstance(value, range):
        return ["r", value.start, value.stop, value.step]
    return opaque(value)


_SEQUENCE_TAGS = ((list, "l"), (tuple, "t"), (set, "s"), (frozenset, "f"), (collections.deque, "q"))


def decode(node, ref, depth=0):
    """The value a node stands for, built from builtin types only; ``ref(tag, payload)`` resolves ``h``/``n``
    nodes. Raises ``WireError`` for anything malformed."""
    kind = type(node)
    if kind in _SCALARS:
        return node
    if kind is not list or not node or type(node[0]) is not str or depth > MAX_DEPTH:
        raise WireError(f"malformed node of type {kind.__name__}")
    tag, rest = node[0], node[1:]
    depth += 1
    try:
        if tag in _CONTAINERS:
            return _CONTAINERS[tag](decode(item, ref, depth) for item in rest)
        if tag == "d":
            items = [decode(item, ref, depth) for item in rest]
            if len(items) % 2:
                raise WireError("dict node with an odd item count")
            return dict(zip(items[::2], items[1::2]))
        if tag in ("h", "n"):
            return ref(tag, _only(rest, int if tag == "h" else str))
        return _SCALAR_TAGS[tag](*rest)
    except WireError:
        raise
    except (KeyError, TypeError, ValueError, ArithmeticError, RecursionError, decimal.InvalidOperation) as exc:
        raise WireError(f"malformed {tag!r} node: {type(exc).__name__}") from None


def _only(rest, kind):
    if len(rest) != 1 or type(rest[0]) is not kind:
        raise WireError("malformed reference")
    return rest[0]


def _exact(kind, *kinds):
    """A constructor that accepts arguments of exactly these types (a forged node must not smuggle a bool in as an
    int, or a list where a string belongs)."""

    def build(*args):
        if len(args) != len(kinds) or any(type(a) not in allowed for a, allowed in zip(args, kinds)):
            raise TypeError(f"bad arguments for {kind.__name__}")
        return kind(*args)

    return build


_CONTAINERS = {"l": list, "t": tuple, "s": set, "f": frozenset, "q": collections.deque}
_NUMBER = (int, float)
_SCALAR_TAGS = {
    "i": _exact(lambda text: int(text, 16), (str,)),
    "b": _exact(bytes.fromhex, (str,)),
    "y": _exact(bytearray.fromhex, (str,)),
    "c": _exact(complex, _NUMBER, _NUMBER),
    "F": lambda num, den: fractions.Fraction(_int(num), _int(den)),
    "D": _exact(decimal.Decimal, (str,)),
    "r": _exact(range, (int,), (int,), (int,)),
}


def _int(node):
    value = decode(node, None)
    if type(value) is not int:
        raise TypeError("a Fraction is built from two ints")
    return value


def dumps(message):
    return json.dumps(message, separators=(",", ":")).encode()


def write_frame(fd, message):
    body = dumps(message)
    view = memoryview(len(body).to_bytes(4, "big") + body)
    while view:
        view = view[os.write(fd, view) :]


def read_frame(fd):
    """One message; ``WireError`` for a closed peer, a frame over ``MAX_FRAME`` or bytes that are not JSON."""
    size = int.from_bytes(_read_exact(fd, 4), "big")
    if size > MAX_FRAME:
        raise WireError(f"frame of {size} bytes is over the {MAX_FRAME} limit")
    try:
        return json.loads(_read_exact(fd, size))
    except (ValueError, RecursionError) as exc:
        raise WireError(f"frame is not JSON: {type(exc).__name__}") from None


def _read_exact(fd, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            raise WireError("the peer closed the connection")
        buf += chunk
    return bytes(buf)
