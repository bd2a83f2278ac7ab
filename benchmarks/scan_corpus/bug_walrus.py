# expect: bug
def make(chunks):
    out = []
    it = iter(chunks)
    while (chunk := next(it, None)) is not None:
        out.append(lambda: chunk)
    return out
