"""The turn-taking machine, event by event on a clock that only moves when the test says so.

A `Talk` plays the voice loop's part: it hands the machine what the turn detector would hear (speech
starting at t, a pause, the end of the turn) and the transcripts it asks for, and keeps what comes out.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from assistant.audio.capture import BargeInHeard
from assistant.audio.sources import ScriptedSource, ScriptItem
from assistant.audio.vad import SpeculativeEnd, SpeechResumed, SpeechStarted, TurnEnded
from assistant.config import VoiceSettings
from assistant.events import (
    BargeIn,
    ConfirmationAnswered,
    ConfirmationAsked,
    ReplyDelta,
    ReplyDone,
    StateChanged,
    TranscriptReady,
    TurnWithdrawn,
    UserSpeechStarted,
)
from assistant.pipeline import VoiceLoop
from assistant.questions import Question
from assistant.tools import tool
from assistant.turns import TurnTaker
from assistant.turns import messages as msg
from assistant.turns.asking import ASK_AGAIN
from tests.fakes import (
    ManualClock,
    RecordingSink,
    ScriptedChat,
    ScriptedLocalChat,
    ScriptedSTT,
    ToneTTS,
    ToolSet,
    Turn,
    make_assistant,
)

PRE_ROLL_S, TRAILING_S = 0.3, 0.1


class Talk:
    """Drives a TurnTaker as the voice loop would, with default voice settings unless told otherwise."""

    def __init__(self, guess=lambda text: None, **voice) -> None:
        """guess: the model's end-of-turn probability for a transcript, sent back at once for each
        Prefill as the loop does after the prefill (None: the model cannot say; guess=None: the test
        sends each Prefilled itself)."""
        self.guess = guess
        self.voice = VoiceSettings(**voice)
        self.clock = ManualClock(100.0)
        self.machine = TurnTaker(self.voice, self.clock)
        self.commands: list[msg.Command] = []
        self.events: list = []
        self._t_audio_start = 0.0
        self._spec_key = 0

    def send(self, event: object, at: float | None = None) -> list[msg.Command]:
        if at is not None:
            self.clock.set(at)
        out = self.machine.handle(event)
        self.commands += out
        self.events += [c.event for c in out if isinstance(c, msg.Emit)]
        if self.guess is not None:
            for c in list(out):
                if isinstance(c, msg.Prefill):
                    out += self.send(msg.Prefilled(c.key, c.text, self.guess(c.text)))
        return out

    # what the turn detector reports
    def speech(self, t: float) -> list[msg.Command]:
        self._t_audio_start = t - PRE_ROLL_S
        return self.send(SpeechStarted(t, t + 0.25), at=t + 0.25)

    def _audio(self, t_speech_end: float) -> np.ndarray:
        return np.zeros(round((t_speech_end + TRAILING_S - self._t_audio_start) * 16000), np.float32)

    def pause(self, t_speech_end: float, heard: str | None = None) -> list[msg.Command]:
        """The short silence after speech that ended at t_speech_end; heard: its transcript comes in."""
        t = t_speech_end + self.voice.speculative_silence_ms / 1000
        audio = self._audio(t_speech_end)
        out = self.send(SpeculativeEnd(t, audio, t_speech_end, self._t_audio_start), at=t)
        (transcribe,) = [c for c in out if isinstance(c, msg.Transcribe)]
        self._spec_key = transcribe.key
        if heard is not None:
            out += self.send(msg.Transcribed(transcribe.key, heard, len(audio) / 16000))
        return out

    def spec_heard(self, text: str) -> list[msg.Command]:
        """The transcript of the last pause comes in (late)."""
        return self.send(msg.Transcribed(self._spec_key, text, 1.0))

    def end(self, t_speech_end: float, heard: str = "") -> list[msg.Command]:
        """The end-of-turn silence; heard: the transcript, if the machine waits for one."""
        t = t_speech_end + self.voice.end_silence_ms / 1000
        event = TurnEnded(t_speech_end, t, self._audio(t_speech_end), t_speech_end - 1, self._t_audio_start)
        out = self.send(event, at=t)
        for c in list(out):
            if isinstance(c, msg.AwaitTranscript):  # the loop waits for it and sends it back at once
                out += self.send(msg.Transcribed(c.key, heard, 1.0))
        return out

    def resume(self, t: float) -> list[msg.Command]:
        return self.send(SpeechResumed(t), at=t)

    def tick(self, at: float) -> list[msg.Command]:
        return self.send(msg.Tick(), at=at)

    def say_question(self, question: Question) -> None:
        """A tool asks: the question is said, and has been played in full."""
        self.send(msg.ConfirmAsked(question))
        self.send(msg.QuestionSpoken(question.id, False))
        self.send(msg.QuestionSpoken(question.id, True))

    def started(self) -> list[msg.StartAnswer]:
        return [c for c in self.commands if isinstance(c, msg.StartAnswer)]

    def finish(self, start: msg.StartAnswer | msg.Announce) -> list[msg.Command]:
        return self.send(msg.AnswerFinished(start.answer))


def of(commands: list, kind: type) -> list:
    return [c for c in commands if isinstance(c, kind)]


def test_a_turn_ends_at_the_end_of_turn_silence():
    talk = Talk()
    talk.speech(101.0)
    # At the short silence Sori starts transcribing and, with the transcript, gets the model ready.
    out = talk.pause(102.0, heard="Tell me a joke.")
    assert of(out, msg.Transcribe) and [p.text for p in of(out, msg.Prefill)] == ["Tell me a joke."]
    assert not talk.started()
    # The turn ends after end_silence_ms, answered from the transcript already made.
    out = talk.end(102.0)
    (start,) = of(out, msg.StartAnswer)
    assert not of(out, msg.Transcribe)
    turn = start.turn
    assert (turn.turn_id, turn.transcript, turn.speculative_hit) == (1, "Tell me a joke.", True)
    assert turn.speech_end == 102.0 and round(turn.decided - turn.speech_end, 3) == 0.7
    assert talk.events == [
        UserSpeechStarted(1, 101.0),
        StateChanged(1, "hearing"),
        TranscriptReady(1, "Tell me a joke.", 1.4),  # pre-roll, speech and trailing silence
    ]
    assert talk.finish(start) == [msg.Emit(StateChanged(1, "listening"))]
    assert talk.machine.idle


def test_without_a_transcript_at_the_pause_the_end_of_turn_waits_for_one():
    talk = Talk()
    talk.speech(101.0)
    talk.pause(102.0)  # the transcription is still running when the turn ends
    out = talk.end(102.0, heard="Tell me a joke.")
    assert [type(c) for c in out[:1]] == [msg.AwaitTranscript]
    assert [s.turn.transcript for s in talk.started()] == ["Tell me a joke."]
    # Its copy through the queue comes in later and changes nothing.
    assert talk.spec_heard("Tell me a joke.") == []
    assert len(talk.started()) == 1


def test_a_clear_question_is_answered_at_the_short_silence():
    talk = Talk()
    talk.speech(101.0)
    out = talk.pause(102.0, heard="What time is it in Tokyo?")
    (start,) = of(out, msg.StartAnswer)
    assert start.turn.transcript == "What time is it in Tokyo?" and start.turn.speculative_hit
    assert round(start.turn.decided - start.turn.speech_end, 3) == 0.2  # not 0.7
    # Without the model's guess (a chat server) the question mark decides; with it, the guess does.
    (prefill,) = of(out, msg.Prefill)
    assert out.index(prefill) < out.index(start)
    assert talk.end(102.0) == []  # the end of the same utterance changes nothing
    # Without early_end (or for a statement) the same question waits for the end of the turn.
    late = Talk(early_end=False)
    late.speech(101.0)
    assert not of(late.pause(102.0, heard="What time is it in Tokyo?"), msg.StartAnswer)
    assert len(of(late.end(102.0), msg.StartAnswer)) == 1


def test_a_question_the_model_calls_finished_is_answered_at_the_short_silence():
    talk = Talk(guess=None)
    talk.speech(101.0)
    (prefill,) = of(talk.pause(102.0, heard="What's the weather in Lisbon?"), msg.Prefill)
    assert not talk.started()  # the model's end-of-turn guess decides
    talk.clock.advance(0.15)  # the prefill's time
    out = talk.send(msg.Prefilled(prefill.key, prefill.text, 0.97))
    (start,) = of(out, msg.StartAnswer)
    assert start.turn.transcript == "What's the weather in Lisbon?" and start.turn.speculative_hit
    assert round(start.turn.decided - start.turn.speech_end, 3) == 0.35  # not 0.7
    assert talk.end(102.0) == []
    # A statement the model finds whole still waits for the end-of-turn silence (in a monologue every
    # sentence is whole), and is answered then without waiting for another guess.
    talk2 = Talk(guess=None)
    talk2.speech(101.0)
    (prefill,) = of(talk2.pause(102.0, heard="Set a timer for ten minutes."), msg.Prefill)
    assert not of(talk2.send(msg.Prefilled(prefill.key, prefill.text, 0.97)), msg.StartAnswer)
    (start,) = of(talk2.end(102.0), msg.StartAnswer)
    assert round(start.turn.decided - start.turn.speech_end, 3) == 0.7


def test_words_the_model_calls_unfinished_wait_for_the_end_of_turn():
    talk = Talk(guess=None)
    talk.speech(101.0)
    (prefill,) = of(talk.pause(102.0, heard="So I was thinking about"), msg.Prefill)
    assert not of(talk.send(msg.Prefilled(prefill.key, prefill.text, 0.0004)), msg.StartAnswer)
    # Whisper put a full stop after words that need more: the rules win over a confident guess.
    talk2 = Talk(guess=None)
    talk2.speech(101.0)
    (prefill,) = of(talk2.pause(102.0, heard="Add a note that."), msg.Prefill)
    assert not of(talk2.send(msg.Prefilled(prefill.key, prefill.text, 0.9)), msg.StartAnswer)
    # A question mark after an unfinished phrase is no clear question either.
    talk3 = Talk()
    talk3.speech(101.0)
    talk3.pause(102.0, heard="What's the weather in?")
    assert not talk3.started()


def test_a_pause_the_model_calls_unfinished_holds_the_turn_despite_the_question_mark():
    talk = Talk(guess=lambda text: 0.001 if text.endswith("times?") else 0.9)
    talk.speech(101.0)
    talk.pause(102.0, heard="What is seven times?")
    assert not talk.started()  # no answer at the short silence ...
    assert not of(talk.end(102.0), msg.StartAnswer)  # ... nor at the end-of-turn silence: held
    talk.speech(102.8)  # "... twelve?" after an 800 ms pause: one turn
    talk.pause(103.4, heard="What is seven times twelve?")
    (start,) = talk.started()
    assert start.turn.transcript == "What is seven times twelve?"  # one answer, to the whole question


def test_a_whole_request_the_model_doubts_is_answered_at_the_end_of_turn_silence_not_held():
    # The default model gives "Set a timer for ten minutes." 0.03: too little to answer at the short
    # silence, but after the whole end-of-turn silence only words very likely to go on hold the turn.
    talk = Talk(guess=lambda text: 0.03 if text.endswith("minutes.") else 0.0002)
    talk.speech(101.0)
    talk.pause(102.0, heard="Set a timer for ten minutes.")
    assert not talk.started()
    (start,) = of(talk.end(102.0), msg.StartAnswer)
    assert round(start.turn.decided - start.turn.speech_end, 3) == 0.7
    assert start.turn.turn_end_guess == 0.03
    # "Set a timer" (0.0002) is held for as long again.
    talk = Talk(guess=lambda text: 0.03 if text.endswith("minutes.") else 0.0002)
    talk.speech(101.0)
    talk.pause(102.0, heard="Set a timer.")
    assert not of(talk.end(102.0), msg.StartAnswer)
    held_until = talk.machine.next_deadline()
    assert held_until is not None and round(held_until - talk.clock.now(), 3) == 0.7


def test_bare_words_the_model_finds_whole_are_answered_at_the_end_of_turn_silence():
    # Whisper left out the question mark; the model finds the question whole (0.95 on the default model).
    guesses = {"How warm is it in Rome today": 0.95, "What's the weather": 0.03}
    talk = Talk(guess=guesses.get)
    talk.speech(101.0)
    talk.pause(102.0, heard="How warm is it in Rome today")
    assert not talk.started()  # no punctuation: not answered at the short silence
    (start,) = of(talk.end(102.0), msg.StartAnswer)
    assert round(start.turn.decided - start.turn.speech_end, 3) == 0.7
    # Bare words it doubts (below turn_end_threshold) are held, as are words that need more.
    for heard in ("What's the weather", "What's the weather in"):
        talk = Talk(guess=guesses.get)
        talk.speech(101.0)
        talk.pause(102.0, heard=heard)
        assert not of(talk.end(102.0), msg.StartAnswer), heard
        assert talk.machine.next_deadline() is not None


def test_an_ended_turn_waits_for_the_guess_only_so_long():
    talk = Talk(guess=None)
    talk.speech(101.0)
    talk.pause(102.0, heard="Set a timer for ten minutes.")  # the prompt is cold: the guess takes seconds
    assert not of(talk.end(102.0), msg.StartAnswer)
    deadline = talk.machine.next_deadline()
    assert deadline is not None and round(deadline - talk.clock.now(), 3) == 0.5
    (start,) = of(talk.tick(deadline), msg.StartAnswer)  # the rules decide: it sounds finished
    assert start.turn.transcript == "Set a timer for ten minutes."


def test_speech_while_waiting_for_the_guess_makes_one_turn():
    talk = Talk(guess=None)
    talk.speech(101.0)
    talk.pause(102.0, heard="What is seven times?")
    assert not of(talk.end(102.0), msg.StartAnswer)  # waiting for the guess
    talk.speech(102.75)  # "... twelve?": the user went on
    assert talk.machine.next_deadline() is None
    (prefill,) = of(talk.pause(103.4, heard="What is seven times twelve?"), msg.Prefill)
    (start,) = of(talk.send(msg.Prefilled(prefill.key, prefill.text, 0.9)), msg.StartAnswer)
    assert start.turn.transcript == "What is seven times twelve?"
    assert len(talk.started()) == 1


def test_a_guess_that_comes_after_speech_resumed_is_stale():
    talk = Talk(guess=None)
    talk.speech(101.0)
    (prefill,) = of(talk.pause(102.0, heard="Remind me to call my mother."), msg.Prefill)
    talk.resume(102.3)
    assert not of(talk.send(msg.Prefilled(prefill.key, prefill.text, 0.99)), msg.StartAnswer)
    (again,) = of(talk.pause(103.5, heard="Remind me to call my mother tomorrow at noon."), msg.Prefill)
    assert not of(talk.end(103.5), msg.StartAnswer)  # the ended turn waits for the model's guess
    (start,) = of(talk.send(msg.Prefilled(again.key, again.text, 0.6)), msg.StartAnswer)
    assert start.turn.transcript.endswith("tomorrow at noon.")


def test_speech_resuming_after_an_early_answer_withdraws_it():
    talk = Talk()
    talk.speech(101.0)
    (early,) = of(talk.pause(102.0, heard="What time is it in Tokyo?"), msg.StartAnswer)
    out = talk.resume(102.5)
    assert of(out, msg.BargeInto) == [msg.BargeInto(early.answer, 1, 102.5, withdrawn=True)]
    assert msg.Emit(StateChanged(1, "listening")) in out
    # The utterance goes on and is answered as a whole, in the same turn.
    talk.pause(104.0)
    out = talk.end(104.0, heard="What time is it in Tokyo, and is it raining there?")
    (start,) = of(out, msg.StartAnswer)
    assert start.turn.turn_id == 1 and start.answer != early.answer
    assert start.turn.transcript.endswith("raining there?")
    assert not [e for e in talk.events if isinstance(e, UserSpeechStarted) and e.turn_id != 1]


def test_speech_resuming_after_an_early_answer_said_in_full_takes_it_back():
    talk = Talk()
    talk.speech(101.0)
    (early,) = of(talk.pause(102.0, heard="How far is the moon?"), msg.StartAnswer)
    talk.send(msg.AnswerFinished(early.answer))  # a short answer, over before the user goes on
    out = talk.resume(102.6)
    assert of(out, msg.TakeBack) == [msg.TakeBack(1)] and not of(out, msg.BargeInto)
    talk.pause(104.0)
    (start,) = of(talk.end(104.0, heard="How far is the moon from the Earth?"), msg.StartAnswer)
    assert start.turn.turn_id == 1 and start.answer != early.answer


def test_a_pause_mid_sentence_holds_the_turn_until_speech_resumes():
    talk = Talk()
    talk.speech(101.0)
    talk.pause(102.0)
    assert not of(talk.end(102.0, heard="Set a timer for,"), msg.StartAnswer)  # held, not answered
    held_until = talk.machine.next_deadline()
    assert held_until is not None and round(held_until - talk.clock.now(), 3) == 0.7
    # The user goes on before the hold runs out: no deadline while they speak.
    talk.speech(103.0)
    assert talk.machine.next_deadline() is None
    assert talk.tick(held_until + 0.5) == []
    # The continuation is transcribed together with what was held (one utterance, one answer).
    out = talk.pause(104.0)
    (transcribe,) = of(out, msg.Transcribe)
    first_part = round((102.0 + TRAILING_S - (101.0 - PRE_ROLL_S)) * 16000)
    second_part = round((104.0 + TRAILING_S - (103.0 - PRE_ROLL_S)) * 16000)
    assert len(transcribe.audio) > first_part + second_part
    out = talk.end(104.0, heard="Set a timer for five minutes.")
    (start,) = of(out, msg.StartAnswer)
    assert start.turn.transcript == "Set a timer for five minutes." and start.turn.speech_end == 104.0
    assert len(talk.started()) == 1


def test_a_pause_mid_sentence_is_the_end_once_the_hold_runs_out():
    talk = Talk()
    talk.speech(101.0)
    talk.pause(102.0)
    talk.end(102.0, heard="Set a timer for,")
    deadline = talk.machine.next_deadline()
    assert talk.tick(deadline - 0.05) == []
    (start,) = of(talk.tick(deadline), msg.StartAnswer)
    assert start.turn.transcript == "Set a timer for," and start.turn.turn_id == 1
    # Milestones still count from the end of the speech, not from the end of the hold.
    assert round(start.turn.decided - start.turn.speech_end, 3) == 0.7


def test_speech_over_the_answer_stops_it_and_starts_a_new_turn():
    talk = Talk()
    talk.speech(101.0)
    talk.pause(102.0, heard="Tell me a long story.")
    (first,) = of(talk.end(102.0), msg.StartAnswer)
    # The quick trigger hears the user over Sori's voice before the detector calls it a turn.
    out = talk.send(BargeInHeard(105.0), at=105.1)
    assert of(out, msg.BargeInto) == [msg.BargeInto(first.answer, 1, 105.0)]
    out = talk.speech(105.0)
    assert not of(out, msg.BargeInto)  # already stopped
    assert msg.Emit(UserSpeechStarted(2, 105.0)) in out
    talk.pause(106.0)
    (second,) = of(talk.end(106.0, heard="What is the capital of France?"), msg.StartAnswer)
    assert second.turn.turn_id == 2
    # The end of the first answer's thread comes in late and is ignored.
    assert talk.finish(first) == []


def test_speech_over_the_answer_is_a_barge_in_even_without_the_quick_trigger():
    talk = Talk()
    talk.send(msg.Typed("Tell me a long story."))
    (first,) = talk.started()
    out = talk.speech(110.0)
    assert of(out, msg.BargeInto) == [msg.BargeInto(first.answer, 1, 110.0)]
    assert [e for e in talk.events if isinstance(e, StateChanged)][-2:] == [
        StateChanged(1, "listening"),
        StateChanged(2, "hearing"),
    ]


def test_in_loudspeaker_mode_nothing_is_heard_while_sori_answers():
    talk = Talk(barge_in=False)
    out = talk.send(msg.Typed("Tell me a long story."))
    assert msg.Mute(True) in out
    assert not of(talk.send(BargeInHeard(101.0)), msg.BargeInto)
    (start,) = talk.started()
    assert msg.Mute(False) in talk.finish(start)


def test_a_typed_line_while_answering_interrupts_and_is_answered():
    talk = Talk()
    talk.speech(101.0)
    talk.pause(102.0, heard="Tell me a long story.")
    (first,) = of(talk.end(102.0), msg.StartAnswer)
    out = talk.send(msg.Typed("What's the weather?"), at=104.0)
    assert [type(c) for c in out if not isinstance(c, msg.Emit)] == [msg.BargeInto, msg.StartAnswer]
    typed = of(out, msg.StartAnswer)[0]
    assert (typed.turn.turn_id, typed.turn.transcript, typed.source) == (2, "What's the weather?", "typed")
    assert of(out, msg.BargeInto)[0].answer == first.answer


def test_a_yes_no_question_takes_the_next_utterance_as_its_answer():
    talk = Talk()
    talk.send(msg.Typed("Open the garage door."))
    question = Question("Open the garage door?")
    talk.say_question(question)
    out = talk.speech(110.0)
    # The answer to the question: same turn, no barge-in, no new turn.
    assert out == [msg.Emit(StateChanged(1, "hearing"))]
    talk.pause(110.6)
    out = talk.end(110.6, heard="Yes, please.")
    assert of(out, msg.Settle) == [msg.Settle(question, True, "voice", "Yes, please.", 1)]
    assert len(talk.started()) == 1


def test_a_clear_yes_needs_no_end_of_turn_silence():
    talk = Talk()
    talk.send(msg.Typed("Open the garage door."))
    question = Question("Open the garage door?")
    talk.say_question(question)
    talk.speech(110.0)
    out = talk.pause(110.4, heard="No.")
    assert of(out, msg.Settle) == [msg.Settle(question, False, "voice", "No.", 1)]
    assert talk.end(110.4) == [] and len(talk.started()) == 1


def test_an_unclear_answer_is_asked_once_more_then_taken_as_no():
    talk = Talk()
    talk.send(msg.Typed("Open the garage door."))
    question = Question("Open the garage door?")
    talk.say_question(question)
    talk.speech(110.0)
    talk.pause(111.0)
    out = talk.end(111.0, heard="The weather is nice.")
    assert of(out, msg.SayInAnswer) == [msg.SayInAnswer(ASK_AGAIN)] and not of(out, msg.Settle)
    talk.send(msg.QuestionSpoken(question.id, False))
    talk.send(msg.QuestionSpoken(question.id, True))
    talk.speech(114.0)
    talk.pause(114.5)
    out = talk.end(114.5, heard="Hmm.")
    assert of(out, msg.Settle) == [msg.Settle(question, False, "voice", "Hmm.", 1)]
    assert not of(out, msg.SayInAnswer)


def test_a_yes_no_question_times_out_to_no():
    talk = Talk(confirm_timeout_s=5)
    talk.send(msg.Typed("Open the garage door."))
    question = Question("Open the garage door?")
    talk.send(msg.ConfirmAsked(question), at=101.0)
    talk.send(msg.QuestionSpoken(question.id, False))
    assert talk.machine.next_deadline() is None  # no time counts while Sori says it
    talk.send(msg.QuestionSpoken(question.id, True), at=104.0)
    assert talk.tick(108.9) == []
    # While the user is answering the time does not count either.
    talk.speech(108.7)
    assert talk.tick(109.8) == []  # past the first deadline
    talk.end(109.2, heard="")  # nothing intelligible: the timeout starts again
    assert talk.tick(talk.clock.now() + 4.9) == []
    out = talk.tick(talk.clock.now() + 0.2)
    assert of(out, msg.Settle) == [msg.Settle(question, False, "timeout", "", 1)]


def test_typed_answers_and_a_question_settled_elsewhere():
    talk = Talk()
    talk.send(msg.Typed("Open the garage door."))
    question = Question("Open the garage door?")
    talk.say_question(question)
    out = talk.send(msg.Typed("no"))
    assert of(out, msg.Settle) == [msg.Settle(question, False, "text", "no", 1)]
    assert not of(out, msg.BargeInto) and len(talk.started()) == 1
    # A window button settles the next question while the user is still saying their answer: what they
    # said is then no turn of its own.
    again = Question("Open the garage door?")
    talk.say_question(again)
    talk.speech(120.0)
    talk.send(msg.ConfirmSettled(again.id))
    talk.pause(121.0)
    out = talk.end(121.0, heard="Yes.")
    assert not of(out, msg.Emit) and len(talk.started()) == 1


def test_an_announcement_waits_for_the_answer_being_spoken():
    talk = Talk()
    talk.send(msg.Typed("Tell me a long story."))
    (story,) = talk.started()
    assert not of(talk.send(msg.Announcement("Your timer is done.")), msg.Announce)
    (announce,) = of(talk.finish(story), msg.Announce)
    assert announce.text == "Your timer is done." and announce.turn_id == 1
    # Nothing waits once it has been said.
    talk.finish(announce)
    assert talk.machine.idle


def test_an_announcement_waits_for_the_user_to_finish_and_for_the_answer():
    talk = Talk()
    talk.speech(101.0)
    assert not of(talk.send(msg.Announcement("Your timer is done.")), msg.Announce)
    talk.pause(102.0)
    (start,) = of(talk.end(102.0, heard="Tell me a joke."), msg.StartAnswer)
    assert of(talk.finish(start), msg.Announce)


def test_the_end_of_the_source_answers_a_held_turn_at_once():
    talk = Talk()
    talk.speech(101.0)
    talk.pause(102.0)
    talk.end(102.0, heard="And so my fellow Americans,")
    (start,) = of(talk.send(msg.SourceEnded()), msg.StartAnswer)
    assert start.turn.transcript == "And so my fellow Americans,"
    assert not talk.machine.idle
    talk.finish(start)
    assert talk.machine.idle


def test_the_end_of_the_source_mid_utterance_lets_a_waiting_announcement_be_said():
    talk = Talk()
    talk.speech(101.0)
    assert not of(talk.send(msg.Announcement("Your timer is done.")), msg.Announce)
    (announce,) = of(talk.send(msg.SourceEnded()), msg.Announce)  # the utterance will never end
    talk.finish(announce)
    assert talk.machine.idle


# -- the voice loop carrying the machine's commands out, over scripted engines -----------------------


def _loop(tmp_path, source, chat, *, stt=None, tools=None, events=None, settings=None, voice=None):
    overrides = settings or {"plugins": {"enabled": tools is not None, "fast_path": False}}
    stt = stt or ScriptedSTT(default="")
    a = make_assistant(tmp_path, llm=chat, stt=stt, tts=ToneTTS(), tools=tools, settings=overrides)
    conv = a.store.new_conversation()
    log = events if events is not None else []
    loop = VoiceLoop(a, source, RecordingSink(), conv.id, voice=voice, on_event=log.append)
    return a, conv, loop, log


def test_the_loop_answers_a_spoken_question(tmp_path, shared):
    source = ScriptedSource(
        [ScriptItem(shared / "eval" / "utterances" / "q01_capital.wav")], realtime=False, tail_silence_s=2
    )
    chat = ScriptedLocalChat(["Paris is the capital of France."])
    stt = ScriptedSTT(default="What is the capital of France?")
    a, conv, loop, events = _loop(tmp_path, source, chat, stt=stt)
    turns = loop.run()  # the source runs ahead of real time; the loop still answers what it heard
    assert loop.errors == []
    assert [(t.turn_id, t.transcript, t.reply, t.complete) for t in turns] == [
        (1, "What is the capital of France?", "Paris is the capital of France.", True)
    ]
    kinds = [
        (type(e).__name__, e.turn_id, getattr(e, "state", ""))
        for e in events
        if not isinstance(e, ReplyDelta)
    ]
    assert kinds == [
        ("StateChanged", 0, "listening"),
        ("UserSpeechStarted", 1, ""),
        ("StateChanged", 1, "hearing"),
        ("TranscriptReady", 1, ""),
        ("StateChanged", 1, "thinking"),
        ("ReplyDone", 1, ""),
        ("StateChanged", 1, "listening"),
        ("StateChanged", 1, "stopped"),
    ]
    deltas = "".join(e.text for e in events if isinstance(e, ReplyDelta))
    assert deltas == "Paris is the capital of France." and isinstance(events[-3], ReplyDone)
    assert [(m.role, m.source) for m in a.store.messages(conv.id)][0] == ("user", "spoken")
    assert a.tts.spoken == ["Paris is the capital of France."]


def _silence() -> ScriptedSource:
    return ScriptedSource([], tail_silence_s=math.inf)  # listening, in real time, until closed


def test_a_typed_line_interrupts_the_answer_through_the_loop(tmp_path):
    story = "Once upon a time there was a fox. " * 20
    chat = ScriptedChat([story, "It is sunny."], delay_s=0.02)
    source = _silence()
    events: list = []

    def on_event(event) -> None:
        events.append(event)
        # Interrupted a few sentences in (a sentence is spoken once it is complete).
        if isinstance(event, ReplyDelta) and event.turn_id == 1 and len(events) == 30:
            loop.submit_text("What's the weather?")
        if isinstance(event, ReplyDone) and event.turn_id == 2:
            source.close()

    a, conv, loop, _ = _loop(tmp_path, source, chat, events=events)
    loop.on_event = on_event
    loop.submit_text("Tell me a long story.")
    first, second = loop.run()
    assert first.barged_in_at is not None and not first.complete and len(first.reply) < len(story)
    assert (second.turn_id, second.transcript, second.reply, second.complete) == (
        2,
        "What's the weather?",
        "It is sunny.",
        True,
    )
    barge = [e for e in events if isinstance(e, BargeIn)]
    assert [e.turn_id for e in barge] == [1]
    # The first answer is over before the second is started: nothing of it comes after.
    thinking = events.index(StateChanged(2, "thinking"))
    assert events.index(barge[0]) < thinking
    assert not [e for e in events[thinking:] if isinstance(e, ReplyDelta) and e.turn_id == 1]
    assert [m.complete for m in a.store.messages(conv.id) if m.role == "assistant"] == [False, True]


def _garage(opened: list):
    @tool(confirm="Open the garage door?")
    def open_garage() -> str:
        """Open the garage door."""
        opened.append(True)
        return "the garage door is open"

    return ToolSet(open_garage)


def test_a_typed_yes_answers_the_question_through_the_loop(tmp_path):
    opened: list = []
    chat = ScriptedLocalChat([Turn(calls=[("open_garage", {})]), "The garage door is open."])
    source = _silence()
    events: list = []

    def on_event(event) -> None:
        events.append(event)
        if isinstance(event, ConfirmationAsked):
            loop.submit_text("yes")
        if isinstance(event, ReplyDone):
            source.close()

    a, conv, loop, _ = _loop(tmp_path, source, chat, tools=_garage(opened), events=events)
    loop.on_event = on_event
    a.confirm = loop.confirm
    loop.submit_text("Open the garage door.")
    (turn,) = loop.run()
    assert opened == [True] and turn.complete and turn.barged_in_at is None
    (asked,) = [e for e in events if isinstance(e, ConfirmationAsked)]
    (answered,) = [e for e in events if isinstance(e, ConfirmationAnswered)]
    assert (asked.turn_id, asked.sentence) == (1, "Open the garage door?")
    assert (answered.turn_id, answered.allowed, answered.by, answered.question_id) == (
        1,
        True,
        "text",
        asked.question_id,
    )
    assert "Open the garage door?" in a.tts.spoken  # asked aloud


def test_a_question_settled_by_a_button_stops_the_loop_waiting(tmp_path):
    opened: list = []
    chat = ScriptedLocalChat([Turn(calls=[("open_garage", {})]), "I did not open it."])
    source = _silence()
    events: list = []
    asked: list[Question] = []

    def on_event(event) -> None:
        events.append(event)
        if isinstance(event, ConfirmationAsked):
            asked[0].answer(False, "button")  # the window's No button, holding the same Question
        if isinstance(event, ReplyDone):
            source.close()

    a, conv, loop, _ = _loop(tmp_path, source, chat, tools=_garage(opened), events=events)
    loop.on_event = on_event

    def confirm(sentence: str) -> bool:
        asked.append(Question(sentence))
        return loop.confirm(asked[0])

    a.confirm = confirm
    loop.submit_text("Open the garage door.")
    (turn,) = loop.run()
    assert opened == [] and turn.complete and asked[0].by == "button"
    # The button's holder reports its own answer; the loop reports none of its own.
    assert not [e for e in events if isinstance(e, ConfirmationAnswered)]


def test_an_announcement_is_said_after_the_answer_through_the_loop(tmp_path):
    chat = ScriptedChat(["One. Two. Three. Four. Five."], delay_s=0.05)
    source = _silence()
    events: list = []

    def on_event(event) -> None:
        events.append(event)
        if isinstance(event, ReplyDelta) and event.text.startswith("One"):
            loop.announce("Your timer is done.")
        if isinstance(event, ReplyDone) and event.text == "Your timer is done.":
            source.close()

    a, conv, loop, _ = _loop(tmp_path, source, chat, events=events)
    loop.on_event = on_event
    loop.submit_text("Count to five.")
    loop.run()
    done = [e.text for e in events if isinstance(e, ReplyDone)]
    assert done == ["One. Two. Three. Four. Five.", "Your timer is done."]
    assert a.tts.spoken[-1] == "Your timer is done." and len(loop.announcements) == 1
    assert [m.text for m in a.store.messages(conv.id)][-1] == "Your timer is done."


def test_a_withdrawn_early_answer_leaves_no_trace_in_the_conversation(tmp_path):
    # "How far is the moon ... from the Earth?" with an 857 ms pause: the first part is a whole question to
    # the model, answered at the short silence, and the user goes on. Only the whole question and its answer
    # stay in the conversation (the model must not read the first half twice, nor an answer cut short).
    recording = Path(__file__).parent / "data" / "pauses" / "p16_how_far_is_the.wav"
    source = ScriptedSource([ScriptItem(recording)], tail_silence_s=2.0)
    whole = "How far is the moon from the Earth?"
    stt = ScriptedSTT(["How far is the moon?"], default=whole)
    long = "The moon is far away, and the distance changes a little as it goes round on its orbit."
    chat = ScriptedLocalChat([long, "About 384,000 kilometres."], turn_end=lambda text: 0.9)
    # The answer is still being said (a sink that plays in real time) when the user goes on; the turn's
    # end silence is longer than the pause, so that going on is a withdrawal, not a new question.
    a = make_assistant(tmp_path, llm=chat, stt=stt, tts=ToneTTS(), settings={"plugins": {"enabled": False}})
    conv = a.store.new_conversation()
    events: list = []
    voice = VoiceSettings(speculative_silence_ms=100, end_silence_ms=1500)
    loop = VoiceLoop(a, source, RecordingSink(realtime=True), conv.id, voice=voice, on_event=events.append)
    loop.run()
    assert loop.errors == []
    assert [e.question for e in events if isinstance(e, TurnWithdrawn)] == ["How far is the moon?"]
    assert [(m.role, m.text) for m in a.store.messages(conv.id)] == [
        ("user", whole),
        ("assistant", "About 384,000 kilometres."),
    ]
    assert a.store.get_conversation(conv.id).title.startswith("How far is the moon from")
