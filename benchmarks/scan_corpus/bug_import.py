# expect: bug
def make(names):
    out = []
    for name in names:
        import json as mod
        out.append(lambda: (mod, name))
    return out
