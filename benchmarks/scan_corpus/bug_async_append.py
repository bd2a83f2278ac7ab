# expect: bug
async def make(xs):
    out = []
    for x in xs:
        async def f():
            return x
        out.append(f)
    return out
