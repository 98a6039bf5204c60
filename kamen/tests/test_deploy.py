"""The shipped deployment keeps worker and beat running and Redis persistent, as the README says."""

import configparser
import shlex

import pytest

from kamen.testing.outage import REDIS_CONF, ROOT, celery_command

UNITS = ROOT / "deploy" / "systemd"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(UNITS / f"{name}.service")
    return parser


@pytest.mark.parametrize("name", ["kamen-web", "kamen-notify", "kamen-worker", "kamen-beat"])
def test_every_unit_is_restarted_whatever_way_it_exits_and_never_given_up_on(name):
    service = unit(name)

    assert service["Service"]["Restart"] == "always"
    assert service["Unit"]["StartLimitIntervalSec"] == "0"
    assert service["Service"]["EnvironmentFile"] == "/etc/kamen/kamen.env"


@pytest.mark.parametrize("kind", ["worker", "beat"])
def test_the_units_run_the_commands_the_outage_tests_and_benchmark_run(kind):
    command = shlex.split(unit(f"kamen-{kind}")["Service"]["ExecStart"])
    tested = celery_command(kind)

    assert command[0].endswith("/celery")
    start = tested.index("-A")
    same = 7 if kind == "worker" else 3  # -A kamen worker -Q <queues> <flags> | -A kamen beat
    assert command[1 : 1 + same] == tested[start : start + same]
    assert ("-s" in command) == (kind == "beat")  # beat keeps its schedule in its state directory


def test_the_worker_has_time_to_finish_its_tasks_when_stopped():
    worker = unit("kamen-worker")["Service"]

    assert worker["KillSignal"] == "SIGTERM"
    assert int(worker["TimeoutStopSec"]) >= 90  # CELERY_TASK_TIME_LIMIT


def test_supervisord_restarts_every_program():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "deploy" / "supervisord.conf")

    programs = [section for section in parser.sections() if section.startswith("program:")]
    assert programs == ["program:kamen-web", "program:kamen-notify", "program:kamen-worker", "program:kamen-beat"]
    for program in programs:
        assert parser[program]["autorestart"] == "true"
        assert int(parser[program]["startretries"]) >= 100


def test_redis_keeps_the_queues_across_a_restart():
    settings = dict(
        line.split(None, 1) for line in REDIS_CONF.read_text().splitlines() if line.strip() and not line.startswith("#")
    )

    assert settings["appendonly"] == "yes"
    assert settings["appendfsync"] == "everysec"
    assert settings["maxmemory-policy"] == "volatile-lru"  # evict cache entries, never queues
