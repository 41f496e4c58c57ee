"""The fake FCM server (``tests.fakes.fcm.FakeFCM``) in a process of its own, as FCM is to the
workers: it then answers on its own share of the cores instead of the test process's
threads, and a batch of 500 concurrent sends from each worker does not time out on it.

    with FcmProcess() as fcm:
        ... workers send to fcm.url ...
        fcm.count()         # requests received so far
        fcm.delivered()     # (target, data kind) of every message answered 200

Run as ``python -m tests.reliability.fcm_process``: prints the URL, then answers one
command per line on standard input (``count``, ``delivered``) with one line of JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from types import TracebackType
from typing import IO

from tests.factories import ROOT


class FcmProcess:
    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.fcm_process"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = self._line()

    def _line(self) -> str:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError("the fake FCM process ended")
        return line.strip()

    def _ask(self, command: str) -> object:
        stdin: IO[str] | None = self._process.stdin
        assert stdin is not None
        stdin.write(command + "\n")
        stdin.flush()
        return json.loads(self._line())

    def count(self) -> int:
        answer = self._ask("count")
        assert isinstance(answer, int)
        return answer

    def delivered(self) -> list[tuple[str, str]]:
        answer = self._ask("delivered")
        assert isinstance(answer, list)
        return [(target, kind) for target, kind in answer]

    def stop(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def __enter__(self) -> FcmProcess:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def _serve() -> None:
    from tests.fakes.fcm import FakeFCM

    with FakeFCM() as fcm:
        print(fcm.url, flush=True)
        for command in sys.stdin:
            received = fcm.received
            if command.strip() == "count":
                print(json.dumps(len(received)), flush=True)
            elif command.strip() == "delivered":
                delivered = [[r.target, r.message.get("data", {}).get("kind")] for r in received if r.status == 200]
                print(json.dumps(delivered), flush=True)


if __name__ == "__main__":
    _serve()
