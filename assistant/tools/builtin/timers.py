"""Built-in tools: countdown timers that ring even after a restart.

They are stored by assistant.services.timers, whose TimerService rings them.
"""

from __future__ import annotations

from assistant.services.timers import add_timer, cancel_timers, clock, format_duration, pending_timers
from assistant.tools import tool
from assistant.tools.durations import DURATION  # "90 seconds", "five minutes", "an hour and a half"

# The request starts with the asking ("how do I set a timer on my phone?" is a question) and says how long
# ("set me a timer" is left to the model, which can ask).
_ASK = r"^\W*(?:please\s+)?(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?)?"
TIMER_REQUESTS = [
    _ASK + r"(?:time|count\s+down)\s+(?:me\s+)?(?:for\s+|from\s+)?" + DURATION,  # "can you time 30 seconds"
    _ASK + r"(?=.*\b" + DURATION + r")(?:set|start)\s+(?:me\s+)?(?:an?\s+)?(?:" + DURATION + r"\s+)?"
    r"(?:\w+\s+)?timer\b",
    _ASK + r"remind\s+me\s+in\s+" + DURATION,
    # The whole request a timer and its length, nothing else: the length as said is the argument.
    _ASK + r"(?:set|start)\s+(?:me\s+)?an?\s+timer\s+for\s+(?P<duration_seconds>" + DURATION + r")\W*$",
    _ASK + r"(?:set|start)\s+(?:me\s+)?an?\s+(?P<duration_seconds>" + DURATION + r")\s+timer\W*$",
]


@tool(
    patterns=TIMER_REQUESTS,
    examples=[
        "set a timer for three minutes",
        "start a 15 minute timer",
        "remind me in half an hour to call mom",
        "set a pasta timer for 12 minutes",
    ],
)
def set_timer(duration_seconds: int, label: str | None = None) -> dict:
    """Start a countdown timer that rings when the time is up (also for "remind me in N minutes").

    Args:
        duration_seconds: how long the timer runs, in seconds (5 minutes = 300), from 1 second to 7 days
        label: a short name for what the timer is for, e.g. "laundry" or "check the oven"
    """
    timer = add_timer(duration_seconds, label)
    said = format_duration(duration_seconds)
    named = f" {timer.label!r}" if timer.label else ""
    return {
        "id": timer.id,
        "label": timer.label,
        "duration": said,
        "due": clock(timer.due),
        "message": f"Timer{named} set for {said}; it rings at {clock(timer.due)}.",
    }


@tool(examples=["what timers do I have", "how long is left on my timer", "list my timers"])
def list_timers() -> dict:
    """List the timers that are still running, soonest first, with the time left on each; you cannot see them
    without this tool."""
    timers = pending_timers()
    return {"count": len(timers), "timers": [t.to_dict() for t in timers]}


@tool(examples=["cancel the laundry timer", "stop my timer", "cancel all timers"])
def cancel_timer(label_or_id: str) -> dict:
    """Cancel a running timer by its label or number; "all" cancels every timer.

    Args:
        label_or_id: the timer's label (e.g. "laundry"), its number from list_timers, or "all"
    """
    key = label_or_id
    if not key.strip() and len(pending_timers()) == 1:
        key = "all"  # "cancel my timer" with just one running: no doubt which
    cancelled = cancel_timers(key)
    return {"cancelled": [t.name for t in cancelled], "count": len(cancelled)}
