# expect: bug
def make(xs):
    table = {}
    for x in xs:
        table[x] = lambda: x * 2
    return table
