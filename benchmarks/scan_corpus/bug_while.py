# expect: bug
def make(n):
    out = []
    i = 0
    while i < n:
        out.append(lambda: i)
        i += 1
    return out
