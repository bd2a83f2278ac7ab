# expect: bug
def make(xs):
    out = []
    for x in xs:
        def f():
            return x
        out.append(f)
    return out
