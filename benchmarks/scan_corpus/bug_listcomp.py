# expect: bug
def make(xs):
    return [lambda: x for x in xs]
