# expect: bug
def make(xs, ys):
    out = []
    for x in xs:
        out.append(map(lambda y: y + x, ys))
    return [list(m) for m in out]
