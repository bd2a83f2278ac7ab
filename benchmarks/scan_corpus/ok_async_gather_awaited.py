# expect: ok
import asyncio


async def run(xs):
    for x in xs:
        async def fetch():
            return x
        await asyncio.gather(fetch())
