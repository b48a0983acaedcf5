"""Reading `docker stats` and `docker info`: on answers captured from a real engine."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tomo.monitor.stats import (
    ContainerUse,
    ResourceCache,
    ServerTotals,
    human_bytes,
    installation_use,
    parse_stats,
    parse_totals,
    server_use,
    shown,
    size,
)

# `docker stats --no-stream --format '{{json .}}'` on Docker 20.10.24 (Debian 12): a
# container in a busy loop with a 256 MiB limit, and an idle one without a limit.
CAPTURED_STATS = """\
{"BlockIO":"0B / 0B","CPUPerc":"101.36%","Container":"tomo-stats-busy","ID":"78f9a8929ff1","MemPerc":"0.58%","MemUsage":"1.496MiB / 256MiB","Name":"tomo-stats-busy","NetIO":"736B / 0B","PIDs":"1"}
{"BlockIO":"0B / 0B","CPUPerc":"0.00%","Container":"tomo-stats-idle","ID":"2f2944fa770c","MemPerc":"0.00%","MemUsage":"552KiB / 23.54GiB","Name":"tomo-stats-idle","NetIO":"626B / 0B","PIDs":"2"}
"""  # as Docker wrote it
CAPTURED_INFO = "2 25276182528\n"  # `docker info --format '{{.NCPU}} {{.MemTotal}}'`
MOMENT = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def test_each_running_container_is_read_in_numbers() -> None:
    busy, idle = parse_stats(CAPTURED_STATS).values()
    assert busy == ContainerUse("tomo-stats-busy", 101.36, round(1.496 * 2**20), 256 * 2**20,
                                736, 0, 0, 0)  # fmt: skip
    assert (idle.name, idle.cpu_percent, idle.memory_bytes) == ("tomo-stats-idle", 0.0, 552 * 1024)
    assert idle.memory_limit_bytes == round(23.54 * 2**30)


def test_the_servers_cpus_and_memory() -> None:
    assert parse_totals(CAPTURED_INFO) == ServerTotals(2, 25276182528)


@pytest.mark.parametrize(
    ("text", "count"),
    [("0B", 0), ("736B", 736), ("552KiB", 552 * 1024), ("1.496MiB", 1568670),
     ("23.54GiB", 25275882537), ("1.2kB", 1200), ("3.5MB", 3_500_000), ("2GB", 2 * 10**9),
     ("1.1TB", 1_100_000_000_000), ("--", 0), (" 12.5kB ", 12500)],
)  # fmt: skip
def test_sizes_in_dockers_units(text: str, count: int) -> None:
    assert size(text) == count


@pytest.mark.parametrize("text", ["12 apples", "MiB", "1.2.3kB", "-4B"])
def test_what_is_no_size_is_refused_by_name(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        size(text)


def test_a_container_that_is_not_measured_counts_as_nothing() -> None:
    line = ('{"BlockIO":"--","CPUPerc":"--","MemUsage":"-- / --","Name":"gone",'
            '"NetIO":"--"}')  # fmt: skip
    assert parse_stats(line)["gone"] == ContainerUse("gone", 0.0, 0, 0, 0, 0, 0, 0)


def test_an_installation_is_the_sum_of_its_containers_capped_by_the_server() -> None:
    busy, idle = parse_stats(CAPTURED_STATS).values()
    totals = parse_totals(CAPTURED_INFO)
    both = installation_use([busy, idle], totals, MOMENT)
    assert (both.cpu_percent, both.memory_bytes, both.net_rx_bytes, both.running) == (
        101.36, busy.memory_bytes + idle.memory_bytes, 736 + 626, 2)  # fmt: skip
    assert both.memory_limit_bytes == totals.memory_total_bytes  # one has no limit of its own
    assert installation_use([busy], totals, MOMENT).memory_limit_bytes == 256 * 2**20
    stopped = installation_use([], totals, MOMENT)
    assert (stopped.running, stopped.memory_bytes, stopped.memory_limit_bytes) == (
        0, 0, totals.memory_total_bytes)  # fmt: skip


def test_a_server_is_the_sum_of_its_installations_beside_what_it_has() -> None:
    busy, idle = parse_stats(CAPTURED_STATS).values()
    totals = parse_totals(CAPTURED_INFO)
    uses = [installation_use([c], totals, MOMENT) for c in (busy, idle)]
    server = server_use(uses, totals, MOMENT)
    assert (server.cpu_count, server.memory_total_bytes, server.installations) == (
        2, 25276182528, 2)  # fmt: skip
    assert server.used.memory_bytes == busy.memory_bytes + idle.memory_bytes
    assert server.used.cpu_percent == 101.36


def test_figures_as_people_read_them() -> None:
    (busy,) = [c for c in parse_stats(CAPTURED_STATS).values() if c.name == "tomo-stats-busy"]
    use = installation_use([busy], parse_totals(CAPTURED_INFO), MOMENT)
    assert shown(use) == ("101.4%", "1.5 MiB / 256.0 MiB", "736 B / 0 B", "0 B / 0 B")
    assert shown(None) == ("—", "—", "—", "—")
    assert [human_bytes(n) for n in (0, 1023, 1536, 5 * 2**30)] == [
        "0 B", "1023 B", "1.5 KiB", "5.0 GiB"]  # fmt: skip


def test_the_cache_keeps_each_servers_last_figures_and_forgets_unwatched_servers() -> None:
    busy, idle = parse_stats(CAPTURED_STATS).values()
    totals = parse_totals(CAPTURED_INFO)
    cache = ResourceCache()
    for server, container in (("one", busy), ("two", idle)):
        use = installation_use([container], totals, MOMENT)
        cache.put(server, {f"app-{server}": use}, server_use([use], totals, MOMENT))
    assert cache.of_installation("app-one") is not None and cache.of_server("two") is not None
    cache.put("one", {}, server_use([], totals, MOMENT))  # its app is gone
    assert cache.of_installation("app-one") is None and cache.of_installation("app-two")
    cache.keep_servers(["one"])  # nothing watched on "two" any more
    assert cache.of_server("two") is None and cache.of_installation("app-two") is None
    assert cache.of_server("one") is not None
