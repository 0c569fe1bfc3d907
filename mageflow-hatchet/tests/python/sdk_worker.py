"""A worker of Hatchet's official Python SDK, run against the fake engine by tests/official_python_sdk.rs.

Environment: HATCHET_CLIENT_TOKEN and HATCHET_CLIENT_TLS_STRATEGY=none point it at the fake;
WORKER_ROLE names this process in the outputs of `sdk-hold` ("first" holds its run forever).
"""

import asyncio
import os

from pydantic import BaseModel

from hatchet_sdk import Context, EmptyModel, Hatchet, NonRetryableException

hatchet = Hatchet()
ROLE = os.environ.get("WORKER_ROLE", "worker")


class Message(BaseModel):
    message: str


@hatchet.task(name="sdk-echo", input_validator=Message)
async def echo(input: Message, ctx: Context) -> dict:
    ctx.log(f"echoing {input.message}")
    return {"echo": input.message}


@hatchet.task(name="sdk-echo-sync", input_validator=Message)
def echo_sync(input: Message, ctx: Context) -> dict:
    return {"echo": input.message, "sync": True}


@hatchet.task(name="sdk-flaky", retries=2)
async def flaky(input: EmptyModel, ctx: Context) -> dict:
    if ctx.retry_count == 0:
        raise RuntimeError("the first attempt fails on purpose")
    return {"attempt": ctx.retry_count}


@hatchet.task(name="sdk-fatal", retries=3)
async def fatal(input: EmptyModel, ctx: Context) -> dict:
    raise NonRetryableException("this failure must not be retried")


@hatchet.task(name="sdk-hold")
async def hold(input: EmptyModel, ctx: Context) -> dict:
    if ROLE == "first":
        # Holds the run until the test kills this process.
        await asyncio.sleep(3600)
    return {"worker": ROLE}


def main() -> None:
    worker = hatchet.worker(
        f"sdk-{ROLE}",
        slots=25,
        workflows=[echo, echo_sync, flaky, fatal, hold],
    )
    worker.start()


if __name__ == "__main__":
    main()
