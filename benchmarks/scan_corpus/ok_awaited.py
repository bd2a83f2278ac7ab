# expect: ok
async def run(xs):
    out = []
    for x in xs:
        async def fetch():
            return x
        out.append(await fetch())
    return out
