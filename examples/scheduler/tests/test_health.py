import asyncio

from scheduler.health import run_checks, schedule_checks, schedule_checks_fixed


def test_every_host_gets_a_result():
    # Passes without the plugin: it counts results, it does not look at which host was polled.
    seen = []
    results = asyncio.run(run_checks(schedule_checks(["db", "cache", "api"], seen)))
    assert results == ["up", "up", "up"]


def test_fixed_scheduler_polls_each_host():
    seen = []
    asyncio.run(run_checks(schedule_checks_fixed(["db", "cache", "api"], seen)))
    assert sorted(seen) == ["api", "cache", "db"]
