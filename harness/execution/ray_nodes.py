"""Which Ray node a run ran on, and a lost node's failure as a run record's error naming the node."""

from __future__ import annotations

import re
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.execution.records import ErrorInfo, NodeInfo


def this_node() -> NodeInfo:
    """The Ray node this code runs on: ``{"id": node id (hex), "ip": its IP, "host": hostname}``."""
    import ray

    return {
        "id": ray.get_runtime_context().get_node_id(),
        "ip": ray.util.get_node_ip_address(),
        "host": socket.gethostname(),
    }


def lost_node_errors() -> tuple[type[BaseException], ...]:
    """Ray's errors that say the machine failed under a run, not the run itself: its node
    died or became unreachable, its worker process or raylet died, its result was lost with
    a node, or Ray's memory monitor killed it for the node's sake. A run ending in one of
    these is ``transient``: ``--resume`` runs it again."""
    from ray import exceptions as rx

    return tuple(
        getattr(rx, name)
        for name in (
            "NodeDiedError",
            "WorkerCrashedError",
            "LocalRayletDiedError",
            "ObjectLostError",
            "RayActorError",
            "OutOfMemoryError",
        )
        if hasattr(rx, name)
    )


def _node_in_message(text: str) -> NodeInfo:
    """The node Ray names in an error message (``Node IP: 10.0.0.3, node ID: 8c1f...``), if any."""
    node: NodeInfo = {}
    found = re.search(r"node id:?\s*([0-9a-f]{16,})", text, re.IGNORECASE)
    if found:
        node["id"] = found.group(1)
    found = re.search(r"node ip:?\s*([0-9A-Fa-f.:]+[0-9A-Fa-f])", text, re.IGNORECASE)
    if found:
        node["ip"] = found.group(1)
    return node


def _describe(node: NodeInfo) -> str:
    """``node 8c1f... (10.0.0.3, worker-2)``."""
    where = ", ".join(str(node[k]) for k in ("ip", "host") if node.get(k))
    return f"node {node.get('id', '?')}" + (f" ({where})" if where else "")


def task_failure(exc: BaseException, node: NodeInfo | None, attempts: int, retries: int) -> ErrorInfo:
    """The ``error`` of a run whose Ray task failed; names the node it last ran on
    (from its ``start`` event, else from Ray's message) and says whether it is transient."""
    text = f"{type(exc).__name__}: {exc}"
    known = node.copy() if node else _node_in_message(str(exc))
    error: ErrorInfo = {"type": type(exc).__name__}
    if isinstance(exc, lost_node_errors()):
        where = _describe(known) if known else "its node"
        tries = f"attempt {attempts} of {retries + 1}" if attempts else "before it started"
        error["message"] = (
            f"lost {where} under this run ({type(exc).__name__}, {tries}); --resume runs it again. Ray: {exc}"
        )
        error["transient"] = True
    else:
        error["message"] = "Ray task failed" + (f" on {_describe(known)}" if known else "") + f": {text}"
    if known:
        error["node"] = known
    return error
