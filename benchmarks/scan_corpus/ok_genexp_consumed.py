# expect: ok
def run(xs, ys):
    out = []
    for x in xs:
        out.append(sum(y * x for y in ys))
    return out
