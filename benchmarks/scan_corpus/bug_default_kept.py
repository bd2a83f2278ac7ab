# expect: bug
def make(xs):
    out = []
    for x in xs:
        def f(cb=lambda: x):
            return cb()
        out.append(f)
    return out
