# expect: ok
def run(xs):
    out = []
    for x in xs:
        out.append((lambda: x * 2)())
    return out
