# expect: ok
def make(xs):
    out = []
    for x in xs:
        def f():
            x = 1
            return x
        out.append(f)
    return out
