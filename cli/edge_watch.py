"""The edge watcher process: the edge agent (DNS answers and status pages for Caddy), statuses and
routes kept equal to what runs, and the janitor. Started by `up` as `python -m cli edge-watch`."""
from __future__ import annotations

import logging
import threading
import time

from core.settings import Settings

SWEEP_S = 10   # how often the janitor runs (dead workers' deployments, stray containers, old folders)
log = logging.getLogger("renderlite.edge")


def edge_watch(s: Settings) -> int:
    """The edge agent (DNS + status pages for Caddy), and keeping statuses and the route table
    equal to what runs: at start, on Docker events, and every 5 s; health checks of running apps
    (control/health_monitor.py) in their own thread; the janitor every 10 s."""
    from control.health_monitor import Monitor
    from control.janitor import sweep
    from control.status import reconcile
    from core.wiring import build
    from edge import caddy
    from edge.agent import EdgeAgent
    from edge.labels import selector
    from edge.sync import sync
    from edge.table import Table

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    platform = build(s)
    EdgeAgent(Table(s.routes_file), s.instance, s.domain, s.edge_agent).start()
    wake = threading.Event()

    def events():
        while True:
            try:
                for _ in platform.docker.events(decode=True, filters={"type": "container", **selector(s.instance)}):
                    wake.set()
            except Exception as e:  # docker restarted: reconnect
                log.warning("docker events stream ended: %s", e)
                time.sleep(2)

    threading.Thread(target=events, daemon=True).start()
    monitor = Monitor(platform, on_change=wake.set)
    threading.Thread(target=monitor.loop, args=(threading.Event(),), name="health-monitor", daemon=True).start()
    last_sweep = 0.0
    while True:
        try:
            reconcile(platform, monitor.unhealthy)
            sync(platform)
            if time.monotonic() - last_sweep >= SWEEP_S:
                last_sweep = time.monotonic()
                sweep(platform)
            if s.edge == "caddy":
                caddy.ensure(caddy.config(s), s.caddy_admin)   # Caddy may have restarted
        except Exception as e:
            log.warning("edge sync failed (will retry): %s", e)
            wake.wait(2)
            wake.clear()
            continue
        wake.wait(5)
        wake.clear()
        time.sleep(0.2)   # a burst of Docker events makes one pass, not many
