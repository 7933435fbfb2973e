"""State machine versions and aliases, as AWS defines them.

A *version* is an immutable snapshot of one revision of a state machine (its definition and
role), numbered 1, 2, ... per machine, numbers never reused; its ARN is the machine's with
`:<number>`. Publishing the same revision again returns the version already published from
it. An *alias* (`<machine ARN>:<name>`, the name never all digits) routes new executions to
one or two versions by weight (percent, summing to 100); a version an alias routes to cannot
be deleted. An execution started through a version or an alias runs that version's
definition to its end, whatever happens to the alias or the machine meanwhile, and records
both ARNs (DescribeExecution's stateMachineVersionArn and stateMachineAliasArn).

The choice between an alias's two versions draws from `Versions.choose` (uniform in [0, 1),
`random.random` unless replaced), so tests can make it deterministic; `pick_route` is pure.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from engine import arns
from engine.errors import (
    ConflictException,
    InvalidArn,
    InvalidName,
    ResourceNotFound,
    ServiceQuotaExceededException,
    StateMachineDoesNotExist,
    ValidationException,
)
from engine.store.base import StateMachineRecord

if TYPE_CHECKING:
    from engine.client import Client

#: AWS's quotas per state machine.
MAX_VERSIONS = 1000
MAX_ALIASES = 100
MAX_DESCRIPTION = 256


@dataclass(frozen=True)
class StateMachineVersion:
    machine: str
    number: int
    arn: str
    machine_arn: str
    definition: str
    definition_sha: str
    role_arn: str
    type: str
    revision: int
    description: str | None
    created: float


@dataclass(frozen=True)
class Route:
    version_arn: str
    version: int
    weight: int


@dataclass(frozen=True)
class StateMachineAlias:
    machine: str
    name: str
    arn: str
    description: str | None
    routing: tuple[Route, ...]
    created: float
    updated: float


@dataclass(frozen=True)
class StartTarget:
    """What StartExecution runs: the machine record carrying the definition and role to run
    (a version's, when started through a version or an alias) and the ARNs it went through."""

    machine: StateMachineRecord
    version_arn: str | None = None
    alias_arn: str | None = None


def pick_route(routing: Sequence[Route], draw: float) -> Route:
    """The route a draw uniform in [0, 1) selects: the first route takes draws below its
    weight in percent, the second the rest; a route of weight 0 is never taken."""
    threshold = draw * 100
    total = 0
    for route in routing:
        total += route.weight
        if threshold < total:
            return route
    return [r for r in routing if r.weight > 0][-1]


class Versions:
    def __init__(self, client: Client, choose: Callable[[], float] = random.random) -> None:
        self.client = client
        self.store = client.store
        self.choose = choose

    # --- versions ---------------------------------------------------------------------

    def publish(
        self,
        state_machine: str,
        *,
        revision_id: str | None = None,
        description: str | None = None,
    ) -> StateMachineVersion:
        """PublishStateMachineVersion: a version of the machine's current revision (the
        one already published from it, if any). `revision_id`, when given, must be the
        current revision's (ConflictException otherwise; `INITIAL` names the first)."""
        _check_description(description)
        machine = self.client.describe_state_machine(_unqualified(state_machine))
        current = str(machine.revision)
        if revision_id is not None and revision_id != current and not (
            revision_id == "INITIAL" and machine.revision == 1
        ):
            raise ConflictException(
                f"Failed to publish the State Machine version: revisionId '{revision_id}' "
                f"is not the current revision of '{machine.arn}' ('{current}')"
            )
        doc = {
            "definition_sha": machine.definition_sha,
            "role_arn": machine.role_arn,
            "revision": machine.revision,
            "description": description,
            "created": self.client.clock(),
        }
        number, _ = self.store.publish_version(machine.name, machine.revision, doc, MAX_VERSIONS)
        if number == 0:
            raise ServiceQuotaExceededException(
                f"Too many versions of '{machine.arn}': at most {MAX_VERSIONS}; delete "
                "unused ones with DeleteStateMachineVersion"
            )
        return self.describe_version(arns.version_arn(machine.arn, number))

    def describe_version(self, version_arn: str) -> StateMachineVersion:
        name, number = _version(version_arn)
        machine = self.store.get_state_machine(name)
        doc = self.store.get_version(name, number) if machine is not None else None
        if machine is None or doc is None:
            raise StateMachineDoesNotExist(f"State Machine Does Not Exist: '{version_arn}'")
        return StateMachineVersion(
            machine=name,
            number=number,
            arn=arns.version_arn(machine.arn, number),
            machine_arn=machine.arn,
            definition=self.store.get_definition(doc["definition_sha"]) or "",
            definition_sha=doc["definition_sha"],
            role_arn=doc["role_arn"],
            type=machine.type,
            revision=int(doc["revision"]),
            description=doc.get("description"),
            created=float(doc["created"]),
        )

    def list_versions(self, state_machine: str) -> list[tuple[str, float]]:
        """(version ARN, creation date) of every version, newest first (none for a machine
        that does not exist: AWS's ListStateMachineVersions has no such error)."""
        machine = self.store.get_state_machine(_unqualified(state_machine))
        if machine is None:
            return []
        return [
            (arns.version_arn(machine.arn, n), float(doc["created"]))
            for n, doc in self.store.list_versions(machine.name)
        ]

    def delete_version(self, version_arn: str) -> None:
        """DeleteStateMachineVersion: idempotent; refused while an alias routes to it.
        Executions running it finish on it."""
        name, number = _version(version_arn)
        if not self.store.delete_version(name, number):
            routing = sorted(
                alias for alias, doc in self.store.list_aliases(name)
                if any(int(r[0]) == number for r in doc["routing"])
            )
            raise ConflictException(
                "Version to be deleted must not be referenced by an alias. Current list of "
                f"aliases referencing this version: [{', '.join(routing)}]"
            )

    # --- aliases ----------------------------------------------------------------------

    def create_alias(
        self, name: str, routing: Sequence[Mapping[str, Any]], description: str | None = None
    ) -> StateMachineAlias:
        """CreateStateMachineAlias: idempotent for the same description and routing; the
        same name with others is a ConflictException."""
        arns.check_alias_name(name)
        _check_description(description)
        machine_name, routes = _routing(routing)
        machine = self.store.get_state_machine(machine_name)
        if machine is None:
            raise ResourceNotFound(
                f"Resource not found: '{routes[0].version_arn}' (no state machine "
                f"'{machine_name}')"
            )
        now = self.client.clock()
        doc = {
            "description": description,
            "routing": [[r.version, r.weight] for r in routes],
            "created": now,
            "updated": now,
        }
        arn = arns.alias_arn(machine.arn, name)
        for _ in range(2):
            existing = self.store.get_alias(machine_name, name)
            if existing is not None:
                if (existing.get("description"), existing["routing"]) == (
                    description, doc["routing"]
                ):
                    return self.describe_alias(arn)
                raise ConflictException(
                    f"Failed to create alias because an alias with the same name and a "
                    f"different configuration already exists: '{arn}'"
                )
            outcome = self.store.put_alias(machine_name, name, doc, create=True, limit=MAX_ALIASES)
            if outcome != "exists":  # "exists": created meanwhile, compare with it
                break
        self._written(outcome, machine.arn, arn)
        return self.describe_alias(arn)

    def describe_alias(self, alias_arn: str) -> StateMachineAlias:
        name, alias = _alias(alias_arn)
        machine = self.store.get_state_machine(name)
        doc = self.store.get_alias(name, alias) if machine is not None else None
        if machine is None or doc is None:
            raise ResourceNotFound(f"Resource not found: '{alias_arn}'")
        return StateMachineAlias(
            machine=name,
            name=alias,
            arn=arns.alias_arn(machine.arn, alias),
            description=doc.get("description"),
            routing=tuple(
                Route(arns.version_arn(machine.arn, int(n)), int(n), int(w))
                for n, w in doc["routing"]
            ),
            created=float(doc["created"]),
            updated=float(doc["updated"]),
        )

    def update_alias(
        self,
        alias_arn: str,
        *,
        routing: Sequence[Mapping[str, Any]] | None = None,
        description: str | None = None,
    ) -> StateMachineAlias:
        """UpdateStateMachineAlias: new executions take the new routing; running ones keep
        the version they started on."""
        if routing is None and description is None:
            raise ValidationException(
                "Either the description or the routingConfiguration must be specified"
            )
        _check_description(description)
        current = self.describe_alias(alias_arn)
        routes = current.routing
        if routing is not None:
            machine_name, routes = _routing(routing)
            if machine_name != current.machine:
                raise ValidationException(
                    f"Routing configuration of '{current.arn}' must name versions of "
                    f"state machine '{current.machine}'"
                )
        doc = {
            "description": current.description if description is None else description,
            "routing": [[r.version, r.weight] for r in routes],
            "created": current.created,
            "updated": self.client.clock(),
        }
        outcome = self.store.put_alias(
            current.machine, current.name, doc, create=False, limit=MAX_ALIASES
        )
        machine_arn = current.arn.rsplit(":", 1)[0]
        self._written(outcome, machine_arn, current.arn)
        return self.describe_alias(current.arn)

    def delete_alias(self, alias_arn: str) -> None:
        name, alias = _alias(alias_arn)
        if not self.store.delete_alias(name, alias):
            raise ResourceNotFound(f"Resource not found: '{alias_arn}'")

    def list_aliases(self, state_machine_arn: str) -> list[tuple[str, float]]:
        """(alias ARN, creation date), most recently created first: every alias of the
        machine, or (given a version ARN) those that route to that version."""
        name, qualifier = arns.qualified_state_machine(state_machine_arn)
        if qualifier is not None and not qualifier.isdigit():
            raise InvalidArn(
                f"Invalid Arn: '{state_machine_arn}' (a state machine or version ARN)"
            )
        machine = self.store.get_state_machine(name)
        if machine is None:
            raise StateMachineDoesNotExist(f"State Machine Does Not Exist: '{state_machine_arn}'")
        found = [
            (arns.alias_arn(machine.arn, alias), float(doc["created"]))
            for alias, doc in self.store.list_aliases(name)
            if qualifier is None or any(int(r[0]) == int(qualifier) for r in doc["routing"])
        ]
        return sorted(found, key=lambda x: (-x[1], x[0]))

    # --- starting executions ----------------------------------------------------------

    def resolve(self, state_machine: str) -> StartTarget:
        """What StartExecution on `state_machine` runs: a name or an unqualified ARN runs
        the machine's current definition; a version ARN that version; an alias ARN one of
        its versions, drawn by weight."""
        if not state_machine.startswith("arn:"):
            return StartTarget(self.client.describe_state_machine(state_machine))
        name, qualifier = arns.qualified_state_machine(state_machine)
        if qualifier is None:
            return StartTarget(self.client.describe_state_machine(state_machine))
        alias_arn = None
        version_arn = state_machine
        if not qualifier.isdigit():
            try:
                alias = self.describe_alias(state_machine)
            except ResourceNotFound:
                raise StateMachineDoesNotExist(
                    f"State Machine Does Not Exist: '{state_machine}'"
                ) from None
            alias_arn = alias.arn
            version_arn = pick_route(alias.routing, self.choose()).version_arn
        version = self.describe_version(version_arn)
        machine = self.client.describe_state_machine(name)
        runs = replace(
            machine,
            definition=version.definition,
            definition_sha=version.definition_sha,
            role_arn=version.role_arn,
            revision=version.revision,
        )
        return StartTarget(runs, version.arn, alias_arn)

    def _written(self, outcome: str, machine_arn: str, alias_arn: str) -> None:
        if outcome == "ok":
            return
        if outcome == "quota":
            raise ServiceQuotaExceededException(
                f"Too many aliases of '{machine_arn}': at most {MAX_ALIASES}"
            )
        if outcome.startswith("missing_version:"):
            number = int(outcome.split(":", 1)[1])
            raise ResourceNotFound(
                f"Resource not found: '{arns.version_arn(machine_arn, number)}'"
            )
        raise ResourceNotFound(f"Resource not found: '{alias_arn}'")


def _unqualified(state_machine: str) -> str:
    """The machine name in a name or an unqualified ARN (a version's or alias's is
    InvalidArn here, as AWS answers it)."""
    return arns.state_machine_name(state_machine)


def _version(version_arn: str) -> tuple[str, int]:
    name, qualifier = arns.qualified_state_machine(version_arn)
    if qualifier is None or not qualifier.isdigit():
        raise InvalidArn(f"Invalid Arn: '{version_arn}' (not a state machine version ARN)")
    return name, int(qualifier)


def _alias(alias_arn: str) -> tuple[str, str]:
    name, qualifier = arns.qualified_state_machine(alias_arn)
    try:
        if qualifier is None or qualifier.isdigit():
            raise InvalidName(qualifier or "")
        return name, arns.check_alias_name(qualifier)
    except InvalidName:
        raise InvalidArn(f"Invalid Arn: '{alias_arn}' (not a state machine alias ARN)") from None


def _check_description(description: str | None) -> None:
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise ValidationException(
            f"Description is {len(description)} characters long, over {MAX_DESCRIPTION}"
        )


def _routing(items: Sequence[Mapping[str, Any]]) -> tuple[str, tuple[Route, ...]]:
    """The machine and routes of a routingConfiguration, checked as AWS checks it: one or
    two distinct versions of one state machine, weights 0-100 summing to 100."""
    if not isinstance(items, Sequence) or not 1 <= len(items) <= 2:
        raise ValidationException(
            "Routing configuration must contain one or two state machine versions"
        )
    machines: set[str] = set()
    routes: list[Route] = []
    for i, item in enumerate(items):
        arn = item.get("stateMachineVersionArn") if isinstance(item, Mapping) else None
        weight = item.get("weight") if isinstance(item, Mapping) else None
        if not isinstance(arn, str):
            raise ValidationException(
                f"routingConfiguration[{i}].stateMachineVersionArn must be a version ARN"
            )
        if not isinstance(weight, int) or isinstance(weight, bool) or not 0 <= weight <= 100:
            raise ValidationException(
                f"routingConfiguration[{i}].weight must be an integer from 0 to 100"
            )
        name, qualifier = arns.qualified_state_machine(arn)
        if qualifier is None or not qualifier.isdigit():
            raise ValidationException(
                f"routingConfiguration[{i}].stateMachineVersionArn '{arn}' is not a state "
                "machine version ARN"
            )
        machines.add(name)
        routes.append(Route(arn, int(qualifier), weight))
    if len(machines) > 1:
        raise ValidationException(
            "Routing configuration must name versions of one state machine: "
            + ", ".join(sorted(machines))
        )
    if len({r.version for r in routes}) < len(routes):
        raise ValidationException("Routing configuration must not name a version twice")
    total = sum(r.weight for r in routes)
    if total != 100:
        raise ValidationException(
            f"Sum of routing configuration weights must be equal to 100, not {total}"
        )
    return machines.pop(), tuple(routes)
