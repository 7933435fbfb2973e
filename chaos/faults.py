"""The faults: killing workers, killing Redis, duplicating messages.

- `WorkerPool` runs N real `celery -A worker worker` processes, each the leader of its own
  process group (so a kill takes the worker and its prefork children at once, as when a
  container or a host dies) and restarts a slot when its worker is killed.
- `WorkerKiller` SIGKILLs a random live worker every few seconds: mostly the whole worker,
  sometimes a single pool process (which exercises `task_reject_on_worker_lost`). Now and
  then it pauses a worker instead (SIGSTOP for longer than the lease, then SIGCONT): a
  zombie that wakes up after its Task was taken over and tries to commit a stale result.
- `RedisRestarter` SIGKILLs the engine's redis-server on request and starts it again on the
  same port and AOF directory after a short outage.
- `Duplicator` reads messages waiting in the Celery queue list (`sfn`) and held by workers
  (kombu's `unacked` hash, where a worker's prefetched and countdown messages sit) and sends
  copies of some through the engine's own dispatcher: the same message delivered twice,
  now, and again late (a copy of a message seen seconds ago, as a broker redelivery after a
  visibility timeout would bring it back once the execution has moved on).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import redis

from chaos.checks import Kill
from engine.embedded import RedisServer
from engine.routing import HANDLER_QUEUE_PREFIX
from engine.runtime.driver import Dispatcher
from engine.runtime.messages import Message

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent

#: Celery's Redis transport: the list a queue's messages wait in, and the hash of messages
#: delivered to a consumer but not yet acknowledged.
QUEUE_KEY = "sfn"
UNACKED_KEY = "unacked"


# --- workers -----------------------------------------------------------------------------


class WorkerProcess:
    def __init__(self, slot: int, generation: int, env: dict[str, str], concurrency: int,
                 log_dir: Path) -> None:
        self.slot = slot
        self.generation = generation
        self.env = env
        self.concurrency = concurrency
        self.log_path = log_dir / f"worker{slot}-{generation}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> WorkerProcess:
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "celery", "-A", "worker", "worker", "-Q", "sfn",
                 "--concurrency", str(self.concurrency), "--loglevel", "INFO",
                 "-n", f"chaos{self.slot}-{self.generation}@%h",
                 "--without-gossip", "--without-mingle"],
                cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.started = time.time()
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ready(self) -> bool:
        """The consumer is up: Celery logs `celery@<name> ready.` once it consumes."""
        try:
            return b" ready." in self.log_path.read_bytes()
        except OSError:
            return False

    def children(self) -> list[int]:
        try:
            text = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        assert self.process is not None
        self.process.wait()

    def stop(self, timeout: float = 15.0) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL whatever is left of the group."""
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.pid, signal.SIGKILL)  # pool processes that outlived their parent
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()


class WorkerPool:
    def __init__(self, size: int, concurrency: int, env: dict[str, str], log_dir: Path) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.env = env
        self.concurrency = concurrency
        self.log_dir = log_dir
        self.lock = threading.Lock()
        self.slots = [WorkerProcess(i, 1, env, concurrency, log_dir) for i in range(size)]
        self.unexpected_exits = 0

    def start(self, timeout: float = 90.0) -> None:
        for w in self.slots:
            w.start()
        deadline = time.monotonic() + timeout
        while not all(w.ready() for w in self.slots):
            for w in self.slots:
                if not w.alive():
                    raise RuntimeError(f"worker {w.slot} exited at start; see {w.log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"workers did not come up in {timeout:.0f}s; see {self.log_dir}")
            time.sleep(0.2)

    def _restart(self, slot: int) -> None:
        old = self.slots[slot]
        self.slots[slot] = WorkerProcess(
            slot, old.generation + 1, self.env, self.concurrency, self.log_dir
        ).start()

    def kill_random(self, rng: random.Random, child_share: float) -> Kill | None:
        """SIGKILL a random worker that is up (or one of its pool processes)."""
        with self.lock:
            candidates = [w for w in self.slots if w.alive() and w.ready()]
            if not candidates:
                return None
            victim = rng.choice(candidates)
            children = victim.children()
            if children and rng.random() < child_share:
                pid = rng.choice(children)
                t = time.time()
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    return None
                return Kill(t, "child", victim.slot, pid)  # billiard forks a replacement
            t = time.time()
            victim.kill()
            self._restart(victim.slot)
            return Kill(t, "worker", victim.slot, victim.pid)

    def pause_random(self, rng: random.Random, seconds: float) -> Kill | None:
        """SIGSTOP a random worker (all its processes) for `seconds`, then SIGCONT it."""
        with self.lock:
            candidates = [w for w in self.slots if w.alive() and w.ready()]
            if not candidates:
                return None
            victim = rng.choice(candidates)
            t = time.time()
            _signal_group(victim.pid, signal.SIGSTOP)
            timer = threading.Timer(seconds, _signal_group, (victim.pid, signal.SIGCONT))
            timer.daemon = True
            timer.start()
            return Kill(t, "pause", victim.slot, victim.pid)

    def revive(self) -> None:
        """Restart a worker that exited without being killed (it should not happen)."""
        with self.lock:
            for w in self.slots:
                if not w.alive():
                    log.warning("worker %s exited by itself (%s); restarting it", w.slot,
                                w.process.returncode if w.process else None)
                    self.unexpected_exits += 1
                    self._restart(w.slot)

    def stop(self) -> None:
        with self.lock:
            for w in self.slots:  # a paused worker would not act on SIGTERM
                if w.alive():
                    _signal_group(w.pid, signal.SIGCONT)
            threads = [threading.Thread(target=w.stop) for w in self.slots]
            for t in threads:
                t.start()
            for t in threads:
                t.join()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # killed meanwhile


class WorkerKiller(threading.Thread):
    def __init__(self, pool: WorkerPool, every: tuple[float, float], child_share: float,
                 pause_share: float, pause_seconds: tuple[float, float], rng: random.Random,
                 stop: threading.Event) -> None:
        super().__init__(daemon=True, name="chaos-killer")
        self.pool, self.every, self.child_share = pool, every, child_share
        self.pause_share, self.pause_seconds = pause_share, pause_seconds
        self.rng, self.stop_event = rng, stop
        self.kills: list[Kill] = []
        self.pauses: list[Kill] = []

    def run(self) -> None:
        while not self.stop_event.wait(self.rng.uniform(*self.every)):
            try:
                if self.rng.random() < self.pause_share:
                    pause = self.pool.pause_random(self.rng, self.rng.uniform(*self.pause_seconds))
                    if pause is not None:
                        self.pauses.append(pause)
                else:
                    kill = self.pool.kill_random(self.rng, self.child_share)
                    if kill is not None:
                        self.kills.append(kill)
                self.pool.revive()
            except Exception:  # noqa: BLE001 - keep injecting faults
                log.exception("worker killer")


# --- Redis ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RedisRestart:
    killed: float
    up: float  # when it answered PING again (AOF loaded)
    downtime: float


class RedisRestarter(threading.Thread):
    """Restarts the engine's Redis each time `request()` is called, one at a time."""

    def __init__(self, server: RedisServer, downtime: tuple[float, float], rng: random.Random,
                 stop: threading.Event) -> None:
        super().__init__(daemon=True, name="chaos-redis")
        self.server, self.downtime, self.rng, self.stop_event = server, downtime, rng, stop
        self.requests: queue.Queue[None] = queue.Queue()
        self.restarts: list[RedisRestart] = []
        self.idle = threading.Event()
        self.idle.set()

    def request(self) -> None:
        self.idle.clear()
        self.requests.put(None)

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.requests.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self.restart()
            finally:
                if self.requests.empty():
                    self.idle.set()

    def restart(self) -> None:
        killed = time.time()
        self.server.kill()
        time.sleep(self.rng.uniform(*self.downtime))
        self.server.start(timeout=120)
        up = time.time()
        self.restarts.append(RedisRestart(killed, up, round(up - killed, 2)))
        log.info("redis restarted after %.1fs", up - killed)


# --- duplicated messages -------------------------------------------------------------------


def decode(raw: str) -> tuple[Message, float] | None:
    """The engine message inside a kombu envelope, and the countdown left on it (a copy of a
    countdown message is delivered at the same time, as a broker redelivery would be)."""
    try:
        envelope: Any = json.loads(raw)
        if isinstance(envelope, list):  # an `unacked` entry: [message, exchange, routing key]
            envelope = envelope[0]
        body = envelope["body"]
        if envelope.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]
        message = args[0]
        if not isinstance(message, dict) or "k" not in message:
            return None
        eta = (envelope.get("headers") or {}).get("eta")
        countdown = max(0.0, datetime.fromisoformat(eta).timestamp() - time.time()) if eta else 0.0
        return message, countdown
    except (ValueError, KeyError, IndexError, TypeError):
        return None


class Duplicator(threading.Thread):
    def __init__(self, redis_url: str, dispatcher: Dispatcher, every: float, per_round: int,
                 rng: random.Random, stop: threading.Event) -> None:
        super().__init__(daemon=True, name="chaos-duplicator")
        self.r = redis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=5)
        self.dispatcher, self.every, self.per_round = dispatcher, every, per_round
        self.rng, self.stop_event = rng, stop
        self.sent: Counter[str] = Counter()
        #: (when due, message) of recently seen messages, for late copies
        self.seen: deque[tuple[float, Message]] = deque(maxlen=1000)

    def run(self) -> None:
        while not self.stop_event.wait(self.every):
            try:
                self.duplicate_some()
            except (redis.RedisError, OSError) as exc:
                log.debug("duplicator: %s", exc)  # Redis is restarting
            except Exception:  # noqa: BLE001 - the broker may be reconnecting
                log.debug("duplicator", exc_info=True)

    def duplicate_some(self) -> None:
        raw = [str(m) for m in self.r.lrange(QUEUE_KEY, 0, 99)]
        # Task messages wait in their handler's own queue (engine/routing.py).
        for key in self.r.scan_iter(match=HANDLER_QUEUE_PREFIX + "*", count=100):
            raw.extend(str(m) for m in self.r.lrange(key, 0, 49))
        held: Any = self.r.hrandfield(UNACKED_KEY, 20, withvalues=True) or []
        raw.extend(str(m) for m in held[1::2])
        self.rng.shuffle(raw)
        now = time.time()
        copies = 0
        for item in raw:
            found = decode(item)
            if found is None:
                continue
            message, countdown = found
            if copies < self.per_round:
                self.dispatcher.send(message, countdown=countdown)
                self.sent[str(message.get("k"))] += 1
                copies += 1
            self.seen.append((now + countdown, message))
        old = [i for i, (t, _) in enumerate(self.seen) if now - t >= 5.0]
        if old:
            i = self.rng.choice(old)
            _, message = self.seen[i]
            del self.seen[i]
            self.dispatcher.send(message)
            self.sent["late " + str(message.get("k"))] += 1
