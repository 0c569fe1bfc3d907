"""Triggers runs through Hatchet's official Python SDK and prints one JSON line per scenario.

Usage: sdk_trigger.py SCENARIO. Each scenario prints {"scenario": ..., "result": ...} on success,
or {"scenario": ..., "error": ..., "error_type": ...} when the run failed as the SDK reports it.
"""

import asyncio
import json
import sys

from sdk_worker import Message, echo, echo_sync, fatal, flaky, hold

from hatchet_sdk import EmptyModel


def emit(scenario: str, **fields) -> None:
    print(json.dumps({"scenario": scenario, **fields}, sort_keys=True), flush=True)


async def aio_echo() -> None:
    emit("aio_echo", result=await echo.aio_run(Message(message="hello from aio_run")))


def sync_echo() -> None:
    emit("sync_echo", result=echo_sync.run(Message(message="hello from run")))


async def retry_once() -> None:
    emit("retry_once", result=await flaky.aio_run(EmptyModel()))


async def non_retryable() -> None:
    try:
        result = await fatal.aio_run(EmptyModel())
    except Exception as error:  # the SDK raises its own exception types
        emit("non_retryable", error=str(error), error_type=type(error).__name__)
        return
    emit("non_retryable", result=result)


async def concurrent() -> None:
    runs = [echo.aio_run(Message(message=f"c{i}")) for i in range(20)]
    emit("concurrent", result=await asyncio.gather(*runs))


async def bulk() -> None:
    items = [echo.create_bulk_run_item(Message(message=f"b{i}")) for i in range(20)]
    emit("bulk", result=await echo.aio_run_many(items))


async def hold_run() -> None:
    emit("hold", result=await hold.aio_run(EmptyModel()))


SCENARIOS = {
    "aio_echo": aio_echo,
    "retry_once": retry_once,
    "non_retryable": non_retryable,
    "concurrent": concurrent,
    "bulk": bulk,
    "hold": hold_run,
}


def main() -> None:
    scenario = sys.argv[1]
    if scenario == "sync_echo":
        sync_echo()
    else:
        asyncio.run(SCENARIOS[scenario]())


if __name__ == "__main__":
    main()
