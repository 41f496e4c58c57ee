"""Without DATABASE_URL the service runs a real embedded PostgreSQL that keeps its data."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    import asyncpg
    from upscale_api import db
    from upscale_api.settings import load_settings

    async def main() -> None:
        settings = load_settings({"UPSCALE_DATA_DIR": sys.argv[1]})
        conn = await asyncpg.connect(await db.resolve_database_url(settings))
        if sys.argv[2] == "write":
            await conn.execute("CREATE TABLE kept (note text)")
            await conn.execute("INSERT INTO kept VALUES ('still here')")
        else:
            print(await conn.fetchval("SELECT note FROM kept"))
        await conn.close()

    asyncio.run(main())
    """
)


def _run(data_dir: Path, mode: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(data_dir), mode], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_data_survives_a_restart_of_the_embedded_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"

    _run(data_dir, "write")  # starts the server, writes, exits (the server stops with its last user)
    assert not (data_dir / "pgdata" / "postmaster.pid").exists()

    assert _run(data_dir, "read") == "still here"
