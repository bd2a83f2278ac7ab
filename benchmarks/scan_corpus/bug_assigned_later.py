# expect: bug
def make(items):
    out = []
    for item in items:
        out.append(lambda: total)
        total = item * 2
    return out
