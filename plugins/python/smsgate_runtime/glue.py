"""What componentize-py's generated glue calls on every export call, made cheaper.

componentize-py (0.25.1, pinned in build.sh) looks up the Python constructors of the WIT
types once, after importing `app` (runtime/src/lib.rs, `do_init`: `getattr(module, name)`),
and calls them to lift values into Python; lowering reads attributes (`.value` for an enum).
For the `door` enum that is `Door(1)`, EnumType.__call__ and Enum.__new__ in Python, and
going back `member.value`, an enum property, two more Python frames.

`install()` replaces `wit_world.imports.types.Door` (before anything captures its members)
with a tuple of plain `WireDoor` objects, callable by index in C (`Door(1)` is
`tuple.__getitem__`) and with a slot `value`; `Door.HTTP`, `Door.SMPPS`, `Door.SMPPC` stay as
they were for the code. The records (`routable`, `pdu`, `user`...) are left as generated.
test_component.py checks the result through the real glue.
"""

from wit_world.imports import types as _types


class WireDoor:
    """A `door` value: `name` and `value` as the enum member's."""

    __slots__ = ('name', 'value')

    def __init__(self, name, value):
        self.name = name
        self.value = value

    def __repr__(self):
        return '<Door.%s: %d>' % (self.name, self.value)


class DoorTable(tuple):
    """`types.Door` once installed: `Door(i)` is the i-th WireDoor."""

    __slots__ = ()
    __call__ = tuple.__getitem__


def install():
    enum = _types.Door
    if isinstance(enum, DoorTable):
        return
    members = sorted(enum, key=lambda m: m.value)
    if [m.value for m in members] != list(range(len(members))):
        raise RuntimeError('door discriminants are not 0..n-1')
    wires = [WireDoor(m.name, m.value) for m in members]
    table = type('Door', (DoorTable,), dict({m.name: w for m, w in zip(members, wires)},
                                            __slots__=(), __doc__=enum.__doc__))
    _types.Door = table(wires)
