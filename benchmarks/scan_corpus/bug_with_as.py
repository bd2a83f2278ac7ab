# expect: bug
def make(paths):
    out = []
    for path in paths:
        with open(path) as fh:
            out.append(lambda: fh.name)
    return out
