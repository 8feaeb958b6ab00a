"""Skills- and value-based routing: a pure core and two backends (in-memory and Redis).

The app builds :class:`Task` and :class:`AgentState` values, loads :class:`RoutingRules` from YAML
(:func:`load_rules`) and calls a :class:`RoutingBackend` (:class:`MemoryBackend` by default); every call returns
the :class:`Event` values it caused.
"""

from routing.backend import RoutingBackend
from routing.engine import RoutingEngine, RoutingSettings, TaskView, WaitingTask
from routing.errors import (
    InvalidTransition,
    ReservationConflict,
    ReservationExpired,
    ReservationGone,
    ReservationNotYours,
    RoutingError,
    UnknownAgent,
    UnknownTask,
    UnknownWorkflow,
    WorkflowConfigError,
)
from routing.events import (
    AgentActivityChanged,
    Event,
    ReservationTimedOut,
    TaskAbandoned,
    TaskAccepted,
    TaskCompleted,
    TaskCreated,
    TaskFallback,
    TaskRejected,
    TaskReserved,
    WorkflowStepChanged,
    event_from_dict,
)
from routing.matching import Requirement, Strategy
from routing.memory import MemoryBackend
from routing.models import (
    Activity,
    AgentState,
    Reservation,
    Task,
    TaskStatus,
    agent_from_dict,
    agent_to_dict,
    task_from_dict,
    task_to_dict,
)
from routing.priority import PriorityWeights
from routing.statistics import AgentStatistics, QueueStatistics, ServiceLevelPolicy, StatisticsLedger
from routing.workflows import FallbackAction, RoutePlan, RoutingRules, load_rules, parse_rules

__all__ = [
    "Activity",
    "AgentActivityChanged",
    "AgentState",
    "AgentStatistics",
    "Event",
    "FallbackAction",
    "InvalidTransition",
    "MemoryBackend",
    "PriorityWeights",
    "QueueStatistics",
    "Requirement",
    "Reservation",
    "ReservationConflict",
    "ReservationExpired",
    "ReservationGone",
    "ReservationNotYours",
    "ReservationTimedOut",
    "RoutePlan",
    "RoutingBackend",
    "RoutingEngine",
    "RoutingError",
    "RoutingRules",
    "RoutingSettings",
    "ServiceLevelPolicy",
    "StatisticsLedger",
    "Strategy",
    "Task",
    "TaskAbandoned",
    "TaskAccepted",
    "TaskCompleted",
    "TaskCreated",
    "TaskFallback",
    "TaskRejected",
    "TaskReserved",
    "TaskStatus",
    "TaskView",
    "UnknownAgent",
    "UnknownTask",
    "UnknownWorkflow",
    "WaitingTask",
    "WorkflowConfigError",
    "WorkflowStepChanged",
    "agent_from_dict",
    "agent_to_dict",
    "event_from_dict",
    "load_rules",
    "parse_rules",
    "task_from_dict",
    "task_to_dict",
]
