"""`sfn down`: stop the project's embedded Redis and the workers started for it."""

from __future__ import annotations

import os

from engine.cli import app
from engine.cli.output import err, out


@app.command()
def down() -> None:
    """Stop this project's embedded redis-server and its worker(s); data stay in .sfn/.

    The project is the nearest folder upward holding .sfn, pyproject.toml or .git (or
    SFN_DATA_DIR). A server configured with REDIS_URL is never touched.
    """
    from engine.embedded import stop_embedded
    from engine.settings import Settings

    data_dir = Settings.from_env().data_dir.resolve()
    if os.environ.get("REDIS_URL"):
        err.print("REDIS_URL is set: that Redis is not stopped; stopping only the embedded one "
                  f"of {data_dir}", highlight=False, soft_wrap=True)
    stopped = stop_embedded(data_dir)
    for pid in stopped.workers:
        out.print(f"stopped worker (pid {pid})", highlight=False)
    if stopped.redis_port is not None:
        out.print(f"stopped the embedded Redis (pid {stopped.redis_pid}, port "
                  f"{stopped.redis_port}, data in {data_dir})", highlight=False, soft_wrap=True)
    elif not stopped.workers:
        out.print(f"no embedded Redis running for {data_dir}", highlight=False, soft_wrap=True)
