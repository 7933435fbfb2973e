"""ARNs and names as AWS spells them.

    arn:aws:states:REGION:ACCOUNT:stateMachine:NAME
    arn:aws:states:REGION:ACCOUNT:execution:STATE_MACHINE:NAME

Internally an execution is identified by `STATE_MACHINE:NAME` (its "eid"), which is unique
because execution names are unique per state machine.
"""

from __future__ import annotations

import re

from engine.asl.jsonvalues import has_lone_surrogate
from engine.errors import InvalidArn, InvalidName

#: AWS's list, with its control characters U+0000-001F, U+007F-009F and U+FFFE-FFFF.
_FORBIDDEN = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f\ufffe\uffff]")
_SM_ARN = re.compile(r"^arn:aws[\w-]*:states:([^:]*):([^:]*):stateMachine:([^:]+)$")
#: A version's (`...:stateMachine:NAME:1`) or an alias's (`...:stateMachine:NAME:PROD`) ARN.
_QUALIFIED_ARN = re.compile(
    r"^arn:aws[\w-]*:states:([^:]*):([^:]*):stateMachine:([^:]+)(?::([^:]+))?$"
)
#: AWS's alias names: letters, digits, `_`, `-`, `.`, at least one that is not a digit (so an
#: alias never reads as a version number).
_ALIAS_NAME = re.compile(r"^(?=.*[a-zA-Z_\-.])[a-zA-Z0-9_\-.]{1,80}$")
_EXEC_ARN = re.compile(r"^arn:aws[\w-]*:states:([^:]*):([^:]*):execution:([^:]+):([^:]+)$")
#: An EXPRESS execution's: its name may be reused, so a unique id follows it.
_EXPRESS_ARN = re.compile(
    r"^arn:aws[\w-]*:states:([^:]*):([^:]*):express:([^:]+):([^:]+):([^:]+)$"
)


def check_name(name: str, what: str = "name") -> str:
    """AWS's rules for state machine and execution names: 1-80 characters, no whitespace,
    brackets, wildcards, punctuation of URLs, or control characters; valid Unicode only."""
    if not isinstance(name, str) or not 1 <= len(name) <= 80:
        raise InvalidName(f"Invalid {what}: '{name}' (1 to 80 characters)")
    if has_lone_surrogate(name):
        # Not Unicode at all: no name can hold it (and no UTF-8 key, ARN or page either).
        raise InvalidName(
            f"Invalid {what}: {name!r} (a lone surrogate is not a valid Unicode character)"
        )
    bad = _FORBIDDEN.search(name)
    if bad:
        raise InvalidName(f"Invalid {what}: '{name}' (character {bad.group()!r} is not allowed)")
    return name


def state_machine_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:states:{region}:{account}:stateMachine:{name}"


def execution_arn(
    region: str, account: str, state_machine: str, name: str, express_id: str | None = None
) -> str:
    """A STANDARD execution's ARN, or (with `express_id`) an EXPRESS one's as AWS writes it:
    `...:express:<machine>:<name>:<id>` (an EXPRESS name may be used again at once)."""
    if express_id is not None:
        return f"arn:aws:states:{region}:{account}:express:{state_machine}:{name}:{express_id}"
    return f"arn:aws:states:{region}:{account}:execution:{state_machine}:{name}"


def qualified_state_machine(arn: str) -> tuple[str, str | None]:
    """(machine name, qualifier) of a state machine ARN that may name a version or an
    alias: the qualifier is None (the machine itself), a version number's digits, or an
    alias name."""
    m = _QUALIFIED_ARN.match(arn)
    if not m:
        raise InvalidArn(f"Invalid Arn: '{arn}'")
    return m.group(3), m.group(4)


def version_arn(machine_arn: str, number: int) -> str:
    return f"{machine_arn}:{number}"


def alias_arn(machine_arn: str, alias: str) -> str:
    return f"{machine_arn}:{alias}"


def check_alias_name(name: str) -> str:
    if not isinstance(name, str) or not _ALIAS_NAME.match(name):
        raise InvalidName(
            f"Invalid alias name: '{name}' (1 to 80 letters, digits, '_', '-' or '.', "
            "not only digits)"
        )
    return name


def state_machine_name(arn_or_name: str) -> str:
    _check_unicode(arn_or_name)
    if arn_or_name.startswith("arn:"):
        m = _SM_ARN.match(arn_or_name)
        if not m:
            raise InvalidArn(f"Invalid Arn: '{arn_or_name}'")
        return m.group(3)
    return arn_or_name


def execution_id(arn_or_eid: str) -> str:
    """`STATE_MACHINE:NAME` (an EXPRESS execution's: `STATE_MACHINE:NAME:ID`) from an
    execution ARN, or an eid given as is."""
    _check_unicode(arn_or_eid)
    if arn_or_eid.startswith("arn:"):
        m = _EXEC_ARN.match(arn_or_eid) or _EXPRESS_ARN.match(arn_or_eid)
        if not m:
            raise InvalidArn(f"Invalid Arn: '{arn_or_eid}'")
        return ":".join(m.groups()[2:])
    if arn_or_eid.count(":") not in (1, 2):
        raise InvalidArn(f"Invalid Arn: '{arn_or_eid}'")
    return arn_or_eid


def _check_unicode(arn_or_name: str) -> None:
    # No name can hold a lone surrogate (check_name refuses it), and it cannot be looked up.
    if isinstance(arn_or_name, str) and has_lone_surrogate(arn_or_name):
        raise InvalidArn(f"Invalid Arn: {arn_or_name!r} (not valid Unicode)")
