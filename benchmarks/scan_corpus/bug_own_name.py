# expect: bug
def make(xs):
    out = []
    for x in xs:
        def countdown(n):
            return n if n <= 0 else countdown(n - 1) + x
        out.append(countdown)
    return out
