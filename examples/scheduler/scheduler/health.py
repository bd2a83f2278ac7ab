"""Health checks, one polling task per configured host.

This is the shape of the incident that started pytest-latebind: every task pinged the last
host, so nine of ten services were down for hours while the dashboard showed the last one
as healthy.
"""

import asyncio


async def ping(host, seen):
    await asyncio.sleep(0)
    seen.append(host)
    return "up"


def schedule_checks(hosts, seen):
    """One polling coroutine function per host (buggy: every check reads the last host)."""
    checks = []
    for host in hosts:
        async def check():
            return await ping(host, seen)
        checks.append(check)
    return checks


def schedule_checks_fixed(hosts, seen):
    """The same, with the host bound when each check is made."""
    checks = []
    for host in hosts:
        async def check(host=host):
            return await ping(host, seen)
        checks.append(check)
    return checks


async def run_checks(checks):
    return await asyncio.gather(*(check() for check in checks))
