# expect: ok
def apply_now(callback):
    return callback()


def run(xs):
    out = []
    for x in xs:
        out.append(apply_now(lambda: x + 1))
    return out
