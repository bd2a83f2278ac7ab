# expect: ok
def run(xs):
    out = []
    for x in xs:
        def double():
            return x * 2
        out.append(double())
    return out
