# expect: ok
def run(xs, ys):
    out = []
    for x in xs:
        out.append(list(map(lambda y: y + x, ys)))
    return out
