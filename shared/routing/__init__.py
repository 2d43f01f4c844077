"""Model routing: complexity scoring, tiered pools of deployments, retries, failover and circuit breakers."""

from shared.routing.breaker import BreakerBoard, CircuitBreaker
from shared.routing.complexity import Complexity, score_request
from shared.routing.failover import FailoverCaller, RetryPolicy
from shared.routing.policy import RoutingPolicy
from shared.routing.router import RouteDecision, Router, no_healthy_deployment

__all__ = ["BreakerBoard", "CircuitBreaker", "Complexity", "FailoverCaller", "RetryPolicy",
           "RouteDecision", "Router", "RoutingPolicy", "no_healthy_deployment", "score_request"]
