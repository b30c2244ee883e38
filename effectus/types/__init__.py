"""Types of effectus: linear resources, session types, refinement and tensor types.

Session types (`Send`, `Recv`, `Select`, `Offer`, `Rec`, `Var`, `End` and their builders) are
here; linear resources, refinement and tensor types are filled in by later issues.
"""

from effectus.types._session import (
    END,
    End,
    Offer,
    Rec,
    Recv,
    Select,
    Send,
    Session,
    Var,
    check,
    dual,
    expects,
    offer,
    rec,
    recv,
    select,
    send,
    unfold,
)

__all__ = [
    "END",
    "End",
    "Offer",
    "Rec",
    "Recv",
    "Select",
    "Send",
    "Session",
    "Var",
    "check",
    "dual",
    "expects",
    "offer",
    "rec",
    "recv",
    "select",
    "send",
    "unfold",
]
