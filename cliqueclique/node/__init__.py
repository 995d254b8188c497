"""The running node (trio): log writer, gossip driver, transports, peers."""

from .budget import BudgetConfig
from .core import Node, NodeOptions, Watch

__all__ = ["BudgetConfig", "Node", "NodeOptions", "Watch"]
