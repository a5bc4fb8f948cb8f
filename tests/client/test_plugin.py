"""The pytest plugin, through pytest itself (pytester): a test file using its fixtures and marker is run in a
subprocess, and its outcomes and what it left on the server are checked."""

import re
import socket

import pytest

INNER = ["-p", "no:django", "-p", "no:cacheprovider", "-s"]


@pytest.fixture
def run_tests(pytester, monkeypatch):
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)

    def run(source: str, *args: str):
        pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
        pytester.makepyfile(test_inner=source)
        return pytester.runpytest_subprocess(*INNER, *args, timeout=300)

    return run


def printed(result, label: str) -> list[str]:
    return [m.group(1) for line in result.outlines if (m := re.search(rf"{label}=(\S+)", line))]


def test_it_starts_a_throwaway_server_for_the_session_and_stops_it_at_the_end(run_tests):
    result = run_tests(
        """
        def test_one(rubberduck_server, rubberduck):
            print(f"SERVER={rubberduck_server.url}")
            print(f"DATA={rubberduck_server.local.data_dir}")
            assert rubberduck.health()["status"] == "ok"
            assert rubberduck.proxies() == []

        def test_two(rubberduck_server, rubberduck):
            print(f"SERVER={rubberduck_server.url}")
            assert rubberduck.providers()
        """
    )
    result.assert_outcomes(passed=2)
    servers = printed(result, "SERVER")
    assert len(servers) == 2 and len(set(servers)) == 1  # one server for the session
    assert "rubberduck" in printed(result, "DATA")[0]
    # A plain socket: pytester unloads the modules a test imports, and httpx imports some on its first failure.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(servers[0].rsplit(":", 1)[1])), timeout=5).close()


def test_it_cleans_up_made_proxies_and_applies_marked_failures_for_one_test(
    run_tests, rubberduck, rubberduck_server, rubberduck_proxy
):
    named = rubberduck_proxy("openai", model_name="m", upstream_url="http://127.0.0.1:9/v1")
    named.set_failures(seed=5)
    source = """
        import pytest

        def test_factory_makes_a_serving_proxy(rubberduck_proxy):
            proxy = rubberduck_proxy(model_name="m", upstream_url="http://127.0.0.1:9/v1")
            print(f"MADE={proxy.name}")
            assert proxy.status == "running" and proxy.failures() == {}

        @pytest.mark.rubberduck_failures(errors={429: 1.0})
        def test_marker_applies_to_the_proxies_the_test_makes(rubberduck_proxy):
            proxy = rubberduck_proxy(model_name="m", upstream_url="http://127.0.0.1:9/v1")
            print(f"MADE={proxy.name}")
            assert proxy.failures() == {"errors": [{"status": 429, "rate": 1.0}]}

        @pytest.fixture
        def made_by_a_fixture(rubberduck_proxy):
            return rubberduck_proxy(model_name="m", upstream_url="http://127.0.0.1:9/v1")

        @pytest.mark.rubberduck_failures(rpm_limit=9)
        def test_marker_applies_to_the_proxies_its_fixtures_make(made_by_a_fixture):
            assert made_by_a_fixture.failures() == {"rpm_limit": 9}

        @pytest.mark.rubberduck_failures({"rpm_limit": 2}, proxy="NAMED")
        def test_marker_applies_to_a_named_proxy(rubberduck):
            assert rubberduck.get_proxy("NAMED").failures() == {"rpm_limit": 2}

        @pytest.mark.rubberduck_failures(proxy="NAMED", errors={500: 1.0})
        def test_marker_restores_when_the_test_fails(rubberduck):
            assert rubberduck.get_proxy("NAMED").failures() == {"errors": [{"status": 500, "rate": 1.0}]}
            raise AssertionError("failing on purpose")

        @pytest.mark.rubberduck_failures(proxy="no-such-proxy", errors={500: 1.0})
        def test_marker_on_a_missing_proxy(rubberduck):
            pass

        @pytest.mark.rubberduck_failures(errors={500: 1.0})
        def test_marker_without_a_proxy_to_apply_to(rubberduck_proxy):
            pass
    """.replace("NAMED", named.name)

    result = run_tests(
        source, f"--rubberduck-url={rubberduck_server.url}", f"--rubberduck-token={rubberduck_server.token}"
    )

    result.assert_outcomes(passed=4, failed=3)
    result.stdout.fnmatch_lines(
        [
            "*failing on purpose*",
            "*applied to nothing: no proxy named 'no-such-proxy'*",
            "*applied to nothing: no proxy made by rubberduck_proxy*",
        ]
    )
    made = printed(result, "MADE")
    assert len(made) == 2
    assert not {p.name for p in rubberduck.proxies()} & set(made)
    assert named.failures() == {"seed": 5}
