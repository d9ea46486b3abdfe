"""The one place where the signing core's ``EsignError``s become what a user reads.

``services`` raise plain-English errors that carry their facts (which step, which rule). The
Odoo layer turns them into translated ``UserError``/``AccessError`` here, and only here, so the
same refusal reads the same from the sign wizard, the gate and the panel, in every language.
Callers catch ``EsignError`` subclasses only where such a message is the answer; anything
else is a bug and must surface as one.
"""

from odoo.exceptions import AccessError, UserError

from ..services.errors import (
    AlreadySignedError,
    NotEligibleError,
    OutOfOrderError,
    PolicyConfigError,
    RequestCompleteError,
    SegregationOfDutiesError,
    SigningRuleError,
    StepCompleteError,
    UnknownStepError,
)


def signing_refusal(env, exc: SigningRuleError, step, record, user):
    """The exception to raise when ``user`` may not sign ``step`` of ``record``."""
    if isinstance(exc, NotEligibleError):
        return AccessError(
            env._(
                "%(user)s may not sign step %(step)s of %(record)s: the signing matrix "
                "does not name them.",
                user=user.name,
                step=step.name,
                record=record.display_name,
            )
        )
    return UserError(rule_message(env, exc, step, record))


def rule_message(env, exc: SigningRuleError, step, record) -> str:
    """A translated sentence for a signing-rule refusal."""
    if isinstance(exc, OutOfOrderError):
        return env._(
            "Step %(step)s of %(record)s cannot be signed yet: earlier steps must be signed "
            "first.",
            step=step.name,
            record=record.display_name,
        )
    if isinstance(exc, SegregationOfDutiesError):
        if exc.rule == "author":
            return env._(
                "Segregation of duties: as author or person responsible for %(record)s you may "
                "not sign it.",
                record=record.display_name,
            )
        return env._(
            "Segregation of duties: you already signed another step of %(record)s.",
            record=record.display_name,
        )
    if isinstance(exc, AlreadySignedError):
        return env._(
            "You already signed step %(step)s of %(record)s.",
            step=step.name,
            record=record.display_name,
        )
    if isinstance(exc, StepCompleteError):
        return env._(
            "Step %(step)s of %(record)s already has the signatures it needs.",
            step=step.name,
            record=record.display_name,
        )
    if isinstance(exc, RequestCompleteError):
        return env._("%(record)s is already fully signed.", record=record.display_name)
    if isinstance(exc, UnknownStepError):
        return env._("Step %(step)s is not part of this signing policy.", step=step.name)
    return env._("This signature is not allowed: %(reason)s", reason=str(exc))


def config_message(env, policy, exc: PolicyConfigError) -> str:
    """A translated sentence for a policy that cannot be evaluated as configured."""
    return env._(
        "The signing policy %(policy)s is misconfigured (%(problem)s); an administrator must "
        "fix it. No approval passes while nobody can sign.",
        policy=policy.name,
        problem=exc.reason,
    )
