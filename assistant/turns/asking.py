"""The yes/no question a tool asks before it runs, as TurnTaker handles it: asked, spoken, answered by
voice or text (or settled elsewhere, by a button), and silence taken for a no."""

from __future__ import annotations

from assistant.audio.clock import Clock
from assistant.config import VoiceSettings
from assistant.questions import AnsweredBy
from assistant.text.yesno import parse_yes_no
from assistant.turns import messages as msg
from assistant.turns.state import Pending

ASK_AGAIN = "Please say yes or no."


class Asking:
    """TurnTaker's part for the pending question; TurnTaker holds the state these methods share."""

    voice: VoiceSettings
    clock: Clock
    turn_id: int
    _question: Pending | None
    _out: list[msg.Command]

    def _confirm_asked(self, e: msg.ConfirmAsked) -> None:
        self._question = Pending(e.question)

    def _question_spoken(self, e: msg.QuestionSpoken) -> None:
        pending = self._question
        if pending is not None and pending.question.id == e.question_id:
            pending.said = e.done
            self._restart_timeout()

    def _confirm_settled(self, e: msg.ConfirmSettled) -> None:
        if self._question is not None and self._question.question.id == e.question_id:
            self._question = None

    def _stop_hearing(self) -> None:
        assert self._question is not None
        self._question.hearing = False
        self._restart_timeout()

    def _restart_timeout(self) -> None:
        """Silence means no: the time counts from the end of the question, not while Sori says it or
        while the user is answering."""
        pending = self._question
        if pending is not None:
            waiting = pending.said and not pending.hearing
            pending.deadline = self.clock.now() + self.voice.confirm_timeout_s if waiting else None

    def _answer_question(self, text: str, final: bool, by: AnsweredBy) -> None:
        pending = self._question
        assert pending is not None
        answer = parse_yes_no(text)
        if answer is None and not pending.asked_again and not final:
            # Said through the answer's speech: QuestionSpoken tells when it has been played.
            pending.asked_again = True
            self._out.append(msg.SayInAnswer(ASK_AGAIN))
            return
        self._settle(bool(answer), by, text)

    def _settle(self, allowed: bool, by: AnsweredBy, heard: str) -> None:
        pending, self._question = self._question, None
        assert pending is not None
        self._out.append(msg.Settle(pending.question, allowed, by, heard, self.turn_id))
