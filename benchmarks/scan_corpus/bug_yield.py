# expect: bug
def make(xs):
    for x in xs:
        yield lambda: x
