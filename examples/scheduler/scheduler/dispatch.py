"""An event dispatcher: one handler per event name, registered in a loop at import time."""

import functools

EVENTS = ["created", "updated", "deleted"]


def describe(event, payload):
    return f"{event}: {payload}"


# Buggy: a module-level loop; every handler reads the global `event`, which ends as "deleted".
HANDLERS = {}
for event in EVENTS:
    HANDLERS[event] = lambda payload: describe(event, payload)


def dispatch(event_name, payload):
    return HANDLERS[event_name](payload)


def make_handlers_fixed(events):
    """The same table, with functools.partial binding each event when its handler is made."""
    return {name: functools.partial(describe, name) for name in events}
