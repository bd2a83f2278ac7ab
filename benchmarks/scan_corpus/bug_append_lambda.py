# expect: bug
def make(xs):
    out = []
    for x in xs:
        out.append(lambda: x)
    return out
