# expect: bug
def make(xs, ys):
    gens = []
    for x in xs:
        gens.append(y * x for y in ys)
    return [sum(g) for g in gens]
