"""An independent MCP client for mageflow-cli/tests/mcp.rs: the official MCP Python SDK drives `mageflow mcp`.

Usage: mcp_client.py MAGEFLOW_BINARY REDIS_URL PREFIX FLOW_ID
It lists the tools, calls each one (FLOW_ID is a running flow that it suspends, resumes, interrupts and cancels),
calls some with bad arguments, and prints one JSON report on stdout for the Rust test to check.
"""

import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError


def outcome(result):
    text = [block.text for block in result.content if getattr(block, "type", None) == "text"]
    return {"is_error": bool(result.is_error), "structured": result.structured_content, "text": text}


async def main(binary, redis_url, prefix, flow_id):
    server = StdioServerParameters(
        command=binary, args=["--redis-url", redis_url, "--prefix", prefix, "mcp"], env={"RUST_LOG": "off"}
    )
    report = {"calls": {}, "bad": {}}
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            initialized = await session.initialize()
            report["server"] = initialized.server_info.name
            listed = await session.list_tools()
            report["tools"] = {tool.name: tool.input_schema for tool in listed.tools}

            async def call(label, name, arguments, into="calls"):
                report[into][label] = outcome(await session.call_tool(name, arguments))

            await call("list_tasks", "list_tasks", {})
            await call("show_flow", "show_flow", {"id": flow_id})
            await call("suspend_flow", "suspend_flow", {"id": flow_id})
            await call("resume_flow", "resume_flow", {"id": flow_id})
            await call("interrupt_flow", "interrupt_flow", {"id": flow_id})
            await call("cancel_flow", "cancel_flow", {"id": flow_id})
            await call("start_flow", "start_flow", {"flow": {"chain": ["double", "double"]}, "input": {"n": 1}})
            await call("list_flows", "list_flows", {"limit": 10})
            await call("list_failed_flows", "list_flows", {"status": ["failed"]})

            await call("show_flow_without_id", "show_flow", {}, "bad")
            await call("show_flow_with_a_number", "show_flow", {"id": 3}, "bad")
            await call("show_flow_with_a_bad_id", "show_flow", {"id": "not an id"}, "bad")
            await call("show_flow_unknown", "show_flow", {"id": "nosuchflow"}, "bad")
            await call("start_flow_empty_chain", "start_flow", {"flow": {"chain": []}}, "bad")
            await call("start_flow_unknown_task", "start_flow", {"flow": "nosuchtask"}, "bad")
            await call("start_flow_bad_input", "start_flow", {"flow": "double", "input": {"n": "x"}}, "bad")
            await call("list_tasks_extra", "list_tasks", {"verbose": True}, "bad")
            await call("list_flows_bad_status", "list_flows", {"status": ["sleeping"]}, "bad")
            try:
                await session.call_tool("no_such_tool", {})
                report["bad"]["unknown_tool"] = "accepted"
            except MCPError as error:
                report["bad"]["unknown_tool"] = {"code": error.code, "message": error.message}
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
