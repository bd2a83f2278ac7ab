# expect: ok
def make(xs):
    out = []
    for x in xs:
        out.append(lambda x=x: x)
    return out
