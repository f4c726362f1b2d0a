"""`@record` and `field`: the part of dataclasses that the modules of every check use,
at a fraction of its start-up cost. dataclasses writes and compiles source code for each
class (about 1 ms per frozen class) and imports inspect; a check builds some twenty such
classes before it reads one heartbeat. Here a class gets one generic __init__, __repr__,
__eq__ and, when frozen, __setattr__/__hash__ (see test_record.py for the behaviour kept).
"""
_MISSING = object()


class Field:
    __slots__ = ("default", "default_factory")

    def __init__(self, default=_MISSING, default_factory=_MISSING):
        self.default, self.default_factory = default, default_factory


def field(*, default=_MISSING, default_factory=_MISSING):
    return Field(default, default_factory)


class FrozenInstanceError(AttributeError):
    pass


def record(cls=None, /, *, frozen=False):
    """@record or @record(frozen=True) on a class whose annotations name its fields."""
    if cls is None:
        return lambda c: _make(c, frozen)
    return _make(cls, frozen)


def _make(cls, frozen):
    names = tuple(cls.__dict__.get("__annotations__", {}))
    defaults = {}
    for name in names:
        value = cls.__dict__.get(name, _MISSING)
        if isinstance(value, Field):
            defaults[name] = value
            if value.default is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, value.default)
        elif value is not _MISSING:
            defaults[name] = Field(default=value)
    required = [name for name in names if name not in defaults]
    set_value = object.__setattr__

    def __init__(self, *args, **kwargs):
        if len(args) > len(names):
            raise TypeError(f"{cls.__name__}() takes {len(names)} arguments, {len(args)} given")
        for name, value in zip(names, args):
            if name in kwargs:
                raise TypeError(f"{cls.__name__}() got {name!r} twice")
            set_value(self, name, value)
        for name, value in kwargs.items():
            if name not in defaults and name not in required:
                raise TypeError(f"{cls.__name__}() got an unexpected argument {name!r}")
            set_value(self, name, value)
        for name in names[len(args):]:
            if name in kwargs:
                continue
            default = defaults.get(name)
            if default is None:
                raise TypeError(f"{cls.__name__}() missing argument {name!r}")
            set_value(self, name, default.default if default.default_factory is _MISSING
                      else default.default_factory())

    def values(self):
        return tuple(getattr(self, name) for name in names)

    def __repr__(self):
        return f"{cls.__qualname__}(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in names) + ")"

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return values(self) == values(other)

    if "__init__" not in cls.__dict__:     # a class made by the thousand may bring its own, faster
        cls.__init__ = __init__
    cls.__repr__, cls.__eq__ = __repr__, __eq__
    cls.__record_fields__ = names
    if frozen:
        def __setattr__(self, name, value):
            raise FrozenInstanceError(f"cannot assign to field {name!r}")

        def __delattr__(self, name):
            raise FrozenInstanceError(f"cannot delete field {name!r}")

        cls.__setattr__, cls.__delattr__ = __setattr__, __delattr__
        cls.__hash__ = lambda self: hash(values(self))
    else:
        cls.__hash__ = None          # mutable and compared by value: unhashable, as a dataclass
    return cls
