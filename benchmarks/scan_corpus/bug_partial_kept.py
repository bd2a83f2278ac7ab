# expect: bug
import functools


def make(xs):
    out = []
    for x in xs:
        out.append(functools.partial(lambda y: y + x, 1))
    return out
