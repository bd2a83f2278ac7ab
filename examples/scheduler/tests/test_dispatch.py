from scheduler.dispatch import EVENTS, dispatch, make_handlers_fixed


def test_every_event_has_a_handler():
    # Passes without the plugin: every handler answers, though all of them as "deleted".
    assert all(dispatch(name, "x").endswith(": x") for name in EVENTS)


def test_fixed_handlers_name_their_event():
    handlers = make_handlers_fixed(EVENTS)
    assert [handlers[name]("x") for name in EVENTS] == [f"{name}: x" for name in EVENTS]
