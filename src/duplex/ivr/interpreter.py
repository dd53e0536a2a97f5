"""`FlowRun`: one call going through one flow, as a sans-IO state machine.

Feed it events with `handle(event, now)` and timers with `handle_timer(now)` (when `get_timer()` is due); each
returns the outputs to act on, in order: commands for the call layer and events for the record. Nothing here
does I/O or reads a clock, so the same run works on a live call and in the simulator's virtual time.

Events that do not fit the current state (a digit while the caller waits in a queue, a stale lookup answer)
are counted in `ignored` and otherwise dropped: they come from the caller or the network, so they are input to
tolerate, not a bug to raise on.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from duplex.ivr import events as ev
from duplex.ivr.announcements import announcement_language
from duplex.ivr.calendar import is_holiday, is_open, local_time
from duplex.ivr.conditions import rule_holds
from duplex.ivr.flow import Flow, Scalar
from duplex.ivr.languages import LANGUAGES, voice_for
from duplex.ivr.overflow import CALLBACK_OFFER, VOICEMAIL, overflow_nodes
from duplex.ivr.templates import json_field, referenced, render, render_url

__all__ = ["CallContext", "FlowRun", "RunState"]

# Safety limits for a run whose call layer misbehaves: a prompt that never reports done, a queue that never
# answers. They keep "every run ends" true without trusting the outside.
PROMPT_LIMIT_SECONDS = 600.0
QUEUE_GRACE_SECONDS = 60.0
DEFAULT_QUEUE_WAIT_SECONDS = 3600
RECORDING_GRACE_SECONDS = 120.0
MAX_STEPS_WITHOUT_WAITING = 1000  # the validator refuses endless pass-through loops; this catches the rest


class RunState(enum.Enum):
    READY = "ready"  # not started
    PROMPT = "prompt"  # a play/say node waits for its prompt to finish
    COLLECT_PROMPT = "collect_prompt"  # a menu/input/csat prompt plays; digits already count (barge-in)
    COLLECT = "collect"  # waiting for digits, with a timer
    LOOKUP = "lookup"
    QUEUE = "queue"
    AGENT = "agent"  # connected to an agent
    RECORDING = "recording"
    DONE = "done"


_COLLECTING = frozenset({RunState.COLLECT_PROMPT, RunState.COLLECT})


@dataclass(frozen=True, slots=True, kw_only=True)
class CallContext:
    caller_id: str = ""
    called_number: str = ""
    tracking_source: str | None = None
    variables: Mapping[str, Scalar] = field(default_factory=dict)


class FlowRun:
    def __init__(self, flow: Flow, context: CallContext) -> None:
        self.flow = flow
        self._nodes: dict[str, Mapping[str, Any]] = dict(flow.nodes)  # plus a queue's overflow nodes
        self.state = RunState.READY
        self.node_id: str | None = None
        self.variables: dict[str, Scalar] = {"language": flow.language, **flow.variables}
        self.variables.update(context.variables)
        self.variables.update(caller_id=context.caller_id, called_number=context.called_number,
                              tracking_source=context.tracking_source)  # fmt: skip
        self.spoken_language = self._language()  # the last say's, or the caller's later choice: `Enqueue`'s
        self.sensitive: set[str] = set()  # variables whose value the record must not show (`SENSITIVE_MASK`)
        self.ignored = 0
        self.end_reason: str | None = None
        self._answered = False
        self._answer_sent = False
        self._deadline: float | None = None
        self._attempts = 0
        self._digits = ""
        self._lookup_id: str | None = None
        self._lookups = 0
        self._out: list[ev.Output] = []
        self._handlers: dict[type[Any], Callable[[Any, float], None]] = {
            ev.Answered: self._on_answered,
            ev.Digit: self._on_digit,
            ev.PromptDone: self._on_prompt_done,
            ev.LookupResult: self._on_lookup_result,
            ev.QueueResult: self._on_queue_result,
            ev.AgentHungUp: self._on_agent_hung_up,
            ev.CallerHungUp: self._on_caller_hung_up,
            ev.RecordingDone: self._on_recording_done,
        }

    # ---- public surface ---------------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.state is RunState.DONE

    @property
    def answered(self) -> bool:
        return self._answered

    @property
    def collecting_secret(self) -> bool:
        """Waiting for a sensitive input's digits: the call layer records the keys pressed masked."""
        return self.state in _COLLECTING and bool(self._node().get("sensitive"))

    def start(self, now: float) -> list[ev.Output]:
        if self.state is RunState.READY:
            self._goto(self.flow.start, now)
        return self._flush()

    def handle(self, event: ev.InputEvent, now: float) -> list[ev.Output]:
        if self.state is RunState.DONE or (
            self.state is RunState.READY and not isinstance(event, ev.CallerHungUp)
        ):
            self.ignored += 1
        else:
            self._handlers[type(event)](event, now)
        return self._flush()

    def get_timer(self) -> float | None:
        return self._deadline

    def handle_timer(self, now: float) -> list[ev.Output]:
        if self._deadline is not None and now >= self._deadline:
            self._deadline = None
            self._on_deadline(now)
        return self._flush()

    # ---- moving between nodes ---------------------------------------------------------------------------

    def _flush(self) -> list[ev.Output]:
        out, self._out = self._out, []
        return out

    def _node(self) -> Mapping[str, Any]:
        assert self.node_id is not None
        return self._nodes[self.node_id]

    def _goto(self, node_id: str | None, now: float, *, missing: str = "no_target") -> None:
        """Enter `node_id` and go on through pass-through nodes until one waits or the run ends."""
        steps = 0
        while node_id is not None and self.state is not RunState.DONE:
            steps += 1
            if steps > MAX_STEPS_WITHOUT_WAITING:
                self._end("loop", hangup=True)
                return
            self.node_id, self._attempts, self._digits, self._deadline = node_id, 0, "", None
            node = self._nodes[node_id]
            self._out.append(ev.NodeEntered(node_id=node_id, node_type=node["type"], at=now))
            node_id = _ENTER[node["type"]](self, node, now)
        if node_id is None and self.state is RunState.READY:
            self._end(missing, hangup=True)

    def _end(self, reason: str, *, hangup: bool) -> None:
        if hangup:
            self._out.append(ev.Hangup(reason=reason))
        self._out.append(ev.FlowEnded(reason=reason, node_id=self.node_id))
        self.state, self.end_reason, self._deadline = RunState.DONE, reason, None

    def _wait(self, state: RunState, deadline: float | None) -> None:
        self.state, self._deadline = state, deadline

    def _ensure_answered(self) -> None:
        if not self._answer_sent:
            self._answer_sent = True
            self._out.append(ev.Answer())

    def _set(self, name: str, value: Scalar, *, sensitive: bool = False) -> None:
        """Set a variable; a sensitive one (or one made from one) reaches the record as `SENSITIVE_MASK`."""
        self.variables[name] = value
        if name == "language" and isinstance(value, str) and value in LANGUAGES:
            self.spoken_language = value
        (self.sensitive.add if sensitive else self.sensitive.discard)(name)
        assert self.node_id is not None
        shown = ev.SENSITIVE_MASK if sensitive else value
        self._out.append(ev.VariableSet(variable=name, value=shown, node_id=self.node_id,
                                        sensitive=sensitive))  # fmt: skip

    def _language(self, explicit: str | None = None) -> str:
        chosen = explicit or self.variables.get("language")
        return chosen if isinstance(chosen, str) and chosen in LANGUAGES else self.flow.language

    def _say(self, text: str | Mapping[str, str], language: str | None, voice: str | None) -> None:
        lang = self._language(language)
        if isinstance(text, Mapping):
            if lang not in text:  # no text in the caller's language: the flow's (or any), in its own voice
                lang = self.flow.language if self.flow.language in text else next(iter(text))
                voice = None
            chosen = text[lang]
        else:
            chosen = text
        self._ensure_answered()
        self.spoken_language = lang
        self._out.append(
            ev.Say(text=render(chosen, self.variables), language=lang, voice=voice_for(lang, voice))
        )

    def _prompt(self, prompt: Mapping[str, Any]) -> None:
        if "play" in prompt:
            self._ensure_answered()
            self._out.append(ev.Play(file=prompt["play"]))
        else:
            self._say(prompt["say"], prompt.get("language"), prompt.get("voice"))

    # ---- entering each node type (return the next node to enter, or None to wait) ----------------------

    def _enter_answer(self, node: Mapping[str, Any], now: float) -> str | None:
        self._ensure_answered()
        return str(node["next"])

    def _enter_play(self, node: Mapping[str, Any], now: float) -> str | None:
        self._prompt({"play": node["file"]})
        self._wait(RunState.PROMPT, now + PROMPT_LIMIT_SECONDS)
        return None

    def _enter_say(self, node: Mapping[str, Any], now: float) -> str | None:
        self._say(node["text"], node.get("language"), node.get("voice"))
        self._wait(RunState.PROMPT, now + PROMPT_LIMIT_SECONDS)
        return None

    def _enter_collect(self, node: Mapping[str, Any], now: float) -> str | None:
        """menu, input and csat: prompt, then digits with a timeout and retries."""
        self._prompt(node["prompt"] if self._attempts == 0 else node.get("retry_prompt", node["prompt"]))
        kind = node["type"]
        max_digits = node.get("max_digits", 20) if kind == "input" else 1
        terminator = node.get("terminator", "#") if kind == "input" else ""
        timeout = float(node.get("timeout_seconds", 5))
        self._out.append(
            ev.CollectDigits(max_digits=max_digits, terminator=terminator, timeout_seconds=timeout)
        )
        self._digits = ""
        self._wait(RunState.COLLECT_PROMPT, now + PROMPT_LIMIT_SECONDS)
        return None

    def _enter_branch(self, node: Mapping[str, Any], now: float) -> str | None:
        local = local_time(now, self.flow.timezone)
        for rule in node["rules"]:
            if rule_holds(rule["if"], self.variables, local):
                return str(rule["goto"])
        return str(node["default"])

    def _enter_hours(self, node: Mapping[str, Any], now: float) -> str | None:
        local = local_time(now, node.get("timezone", self.flow.timezone))
        if is_holiday(local, node.get("holidays", ())):
            return str(node.get("holiday", node["closed"]))
        return str(node["open"] if is_open(local, node["schedule"]) else node["closed"])

    def _enter_set(self, node: Mapping[str, Any], now: float) -> str | None:
        for name, value in node["variables"].items():
            text = isinstance(value, str)
            secret = text and bool(referenced(value) & self.sensitive)  # made from a secret
            self._set(name, render(value, self.variables) if text else value, sensitive=secret)
        return str(node["next"])

    def _enter_lookup(self, node: Mapping[str, Any], now: float) -> str | None:
        self._lookups += 1
        self._lookup_id = f"{self.node_id}#{self._lookups}"
        timeout = float(node.get("timeout_seconds", 3))
        url = render_url(node["url"], self.variables)
        self._out.append(ev.HttpLookup(request_id=self._lookup_id, url=url, timeout_seconds=timeout))
        self._wait(RunState.LOOKUP, now + timeout)
        return None

    def _enter_queue(self, node: Mapping[str, Any], now: float) -> str | None:
        self._ensure_answered()
        skills: list[tuple[str, int | None]] = []
        for skill in node.get("skills", ()):
            name, minimum = (
                (skill, None) if isinstance(skill, str) else (skill["name"], skill.get("min_proficiency"))
            )
            rendered = render(name, self.variables)
            if rendered:
                skills.append((rendered, minimum))
        max_wait = node.get("max_wait_seconds")
        language = announcement_language(node.get("language"), self.spoken_language)
        self._out.append(ev.Enqueue(queue=node["queue"], skills=tuple(skills), priority=self._priority(node),
                                    max_wait_seconds=max_wait, language=language))  # fmt: skip
        limit = (max_wait or DEFAULT_QUEUE_WAIT_SECONDS) + QUEUE_GRACE_SECONDS
        self._wait(RunState.QUEUE, now + limit)
        return None

    def _priority(self, node: Mapping[str, Any]) -> int:
        value: Any = node.get("priority", 0)
        if isinstance(value, str):
            value = self.variables.get(value[2:-1])  # "${name}"
        try:
            return max(0, min(100, int(value)))
        except (TypeError, ValueError):
            return 0

    def _enter_voicemail(self, node: Mapping[str, Any], now: float) -> str | None:
        if "prompt" in node:
            self._prompt(node["prompt"])
        self._ensure_answered()
        max_seconds = int(node.get("max_seconds", 120))
        self._out.append(
            ev.Voicemail(max_seconds=max_seconds, webhook=node.get("webhook"), mailbox=node.get("mailbox"))
        )
        self._wait(RunState.RECORDING, now + max_seconds + RECORDING_GRACE_SECONDS)
        return None

    def _enter_transfer(self, node: Mapping[str, Any], now: float) -> str | None:
        self._out.append(ev.Transfer(agent=node.get("agent"), number=node.get("number")))
        self._end("transferred", hangup=False)
        return None

    def _enter_callback(self, node: Mapping[str, Any], now: float) -> str | None:
        number = self.variables.get(node.get("number_variable", "caller_id"))
        self._out.append(ev.OfferCallback(queue=node["queue"], number="" if number is None else str(number),
                                          at_head=bool(node.get("at_head", False))))  # fmt: skip
        return str(node["next"])

    def _enter_hangup(self, node: Mapping[str, Any], now: float) -> str | None:
        self._end(node.get("reason", "flow_hangup"), hangup=True)
        return None

    # ---- events -----------------------------------------------------------------------------------------

    def _on_answered(self, event: ev.Answered, now: float) -> None:
        self._answered = True

    def _on_prompt_done(self, event: ev.PromptDone, now: float) -> None:
        if self.state is RunState.PROMPT:
            self._goto(str(self._node()["next"]), now)
        elif self.state is RunState.COLLECT_PROMPT:
            self._wait(RunState.COLLECT, now + float(self._node().get("timeout_seconds", 5)))
        else:
            self.ignored += 1

    def _on_deadline(self, now: float) -> None:
        handler = {
            RunState.PROMPT: self._on_prompt_done,
            RunState.COLLECT_PROMPT: self._on_prompt_done,
            RunState.COLLECT: self._on_collect_timeout,
            RunState.LOOKUP: self._on_lookup_timeout,
            RunState.QUEUE: self._on_queue_timeout,
            RunState.RECORDING: self._on_recording_timeout,
        }[self.state]
        handler(ev.PromptDone(), now)

    def _on_digit(self, event: ev.Digit, now: float) -> None:
        if self.state not in (RunState.COLLECT_PROMPT, RunState.COLLECT):
            self.ignored += 1
            return
        if self.state is RunState.COLLECT_PROMPT:
            self._out.append(ev.StopPrompt())
        node = self._node()
        self._wait(RunState.COLLECT, now + float(node.get("timeout_seconds", 5)))
        _DIGIT[node["type"]](self, node, event.digit, now)

    def _menu_digit(self, node: Mapping[str, Any], digit: str, now: float) -> None:
        target = node["options"].get(digit)
        if target is None:
            self._retry("invalid", now)
        else:
            self._goto(target, now)

    def _input_digit(self, node: Mapping[str, Any], digit: str, now: float) -> None:
        if digit == node.get("terminator", "#"):
            self._finish_input(node, now)
            return
        self._digits += digit
        if len(self._digits) >= node.get("max_digits", 20):
            self._finish_input(node, now)

    def _csat_digit(self, node: Mapping[str, Any], digit: str, now: float) -> None:
        if digit not in "12345":
            self._retry("invalid", now)
            return
        assert self.node_id is not None
        self._set(node.get("variable", "csat"), int(digit))
        self._out.append(ev.SurveyAnswered(score=int(digit), node_id=self.node_id))
        self._goto(str(node["next"]), now)

    def _finish_input(self, node: Mapping[str, Any], now: float) -> None:
        digits = self._digits
        if len(digits) < node.get("min_digits", 1) or not _fullmatch(node.get("pattern"), digits):
            self._retry("invalid", now)
            return
        self._set(node["variable"], digits, sensitive=bool(node.get("sensitive", False)))
        self._goto(str(node["next"]), now)

    def _on_collect_timeout(self, _event: object, now: float) -> None:
        if self._digits and self._node()["type"] == "input":
            self._finish_input(self._node(), now)
        else:
            self._retry("timeout", now)

    def _retry(self, kind: str, now: float) -> None:
        """Garbage or silence: prompt again, or after max_retries go to on_invalid/on_timeout (else hang up)."""
        node = self._node()
        self._attempts += 1
        if self._attempts <= node.get("max_retries", 2):
            attempts = self._attempts
            self._enter_collect(node, now)
            self._attempts = attempts
            return
        target = node.get("next") if node["type"] == "csat" else node.get(f"on_{kind}")
        self.state = RunState.READY  # between nodes: _goto hangs up if there is no target
        self._goto(target, now, missing="no_input" if kind == "timeout" else "invalid_input")

    def _on_lookup_result(self, event: ev.LookupResult, now: float) -> None:
        if self.state is not RunState.LOOKUP or event.request_id != self._lookup_id:
            self.ignored += 1
            return
        node = self._node()
        if not event.ok or not isinstance(event.body, Mapping | list):
            self._goto(str(node["on_error"]), now)
            return
        for variable, path in node["map"].items():
            found, value = json_field(event.body, path)
            if found:
                self._set(variable, value)
        self._goto(str(node["next"]), now)

    def _on_lookup_timeout(self, _event: object, now: float) -> None:
        self._goto(str(self._node()["on_error"]), now)

    def _on_queue_result(self, event: ev.QueueResult, now: float) -> None:
        if self.state is not RunState.QUEUE:
            self.ignored += 1
        elif event.outcome is ev.QueueOutcome.ANSWERED:
            self._wait(RunState.AGENT, None)
        elif event.outcome is ev.QueueOutcome.ABANDONED:
            self._end("abandoned", hangup=False)
        else:
            self._leave_queue(event.outcome.value, now, event)

    def _on_queue_timeout(self, _event: object, now: float) -> None:
        self._leave_queue("timeout", now)

    def _leave_queue(self, outcome: str, now: float, result: ev.QueueResult | None = None) -> None:
        """The flow's own target wins; without one, the queue's overflow action (voicemail, callback offer)
        runs; without either the call hangs up."""
        node = self._node()
        target = node.get(f"on_{outcome}")
        action = _OVERFLOW_ACTIONS.get(result.target or "") if result is not None else None
        if target is None and result is not None and action is not None:
            self._nodes.update(overflow_nodes(result.queue or node["queue"], result.voicemail_webhook))
            target = action
        self.state = RunState.READY
        self._goto(target, now, missing=f"queue_{outcome}")

    def _on_agent_hung_up(self, event: ev.AgentHungUp, now: float) -> None:
        if self.state is not RunState.AGENT:
            self.ignored += 1
            return
        target = self._node().get("after_call")
        self.state = RunState.READY
        self._goto(target, now, missing="agent_hung_up")

    def _on_caller_hung_up(self, event: ev.CallerHungUp, now: float) -> None:
        self._end("caller_hung_up", hangup=False)

    def _on_recording_done(self, event: ev.RecordingDone, now: float) -> None:
        if self.state is not RunState.RECORDING:
            self.ignored += 1
            return
        self._end("voicemail_done", hangup=True)

    def _on_recording_timeout(self, _event: object, now: float) -> None:
        self._end("voicemail_timeout", hangup=True)


_OVERFLOW_ACTIONS = {"voicemail": VOICEMAIL, "callback": CALLBACK_OFFER}  # a queue's action -> first node


def _fullmatch(pattern: str | None, digits: str) -> bool:
    return pattern is None or re.fullmatch(pattern, digits) is not None


_ENTER: dict[str, Callable[[FlowRun, Mapping[str, Any], float], str | None]] = {
    "answer": FlowRun._enter_answer,
    "play": FlowRun._enter_play,
    "say": FlowRun._enter_say,
    "menu": FlowRun._enter_collect,
    "input": FlowRun._enter_collect,
    "csat": FlowRun._enter_collect,
    "branch": FlowRun._enter_branch,
    "hours": FlowRun._enter_hours,
    "set": FlowRun._enter_set,
    "lookup": FlowRun._enter_lookup,
    "queue": FlowRun._enter_queue,
    "voicemail": FlowRun._enter_voicemail,
    "transfer": FlowRun._enter_transfer,
    "callback": FlowRun._enter_callback,
    "hangup": FlowRun._enter_hangup,
}
_DIGIT: dict[str, Callable[[FlowRun, Mapping[str, Any], str, float], None]] = {
    "menu": FlowRun._menu_digit,
    "input": FlowRun._input_digit,
    "csat": FlowRun._csat_digit,
}
