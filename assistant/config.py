"""Sori's settings: one TOML file, validated with pydantic, reported as one-line errors."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from . import paths
from .errors import ConfigError

EDIT_HINT = "edit it with 'sori config edit'"
DEFAULT_SYSTEM_PROMPT = (
    "You are Sori, a helpful voice assistant running on the user's own computer. "
    "Answer briefly and clearly in plain sentences."
)


class _Section(BaseModel):
    # Unknown keys are almost always typos; forbidding them lets us name the valid ones.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SttSettings(_Section):
    """Speech-to-text (faster-whisper)."""

    model: str = Field(
        "", description='catalog id or path to a CTranslate2 Whisper folder; "" = the profile\'s'
    )
    language: str = Field("", description='"" = detect; else an ISO code like "en"')
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto | cpu | cuda")
    beam_size: int = Field(1, ge=1, le=10, description="1..10")

    @field_validator("language")
    @classmethod
    def _check_language(cls, value: str) -> str:
        value = value.strip().lower()
        # Whisper uses two-letter codes plus a few three-letter ones ("haw", "yue").
        if value and not re.fullmatch(r"[a-z]{2,3}", value):
            raise ValueError(f'{value!r} is not a language code; use one like "en", or "" to detect it')
        return value


class LlmSettings(_Section):
    """The language model: local llama.cpp, or an OpenAI-compatible server."""

    model: str = Field("", description='catalog id or path to a .gguf file; "" = the profile\'s')
    chat_format: str = Field("", description="\"\" = the manifest's (or the GGUF's own template)")
    context_size: int = Field(0, description="0 = the manifest's; else 256..131072")
    n_threads: int = Field(0, ge=0, description="0 = automatic")
    n_gpu_layers: int = Field(
        -1, ge=-1, description="-1 = all layers when this llama.cpp build can offload; 0 = CPU only"
    )
    max_tokens: int = Field(512, ge=1, le=8192, description="1..8192")
    temperature: float = Field(0.7, ge=0, le=2, description="0..2")
    tool_temperature: float = Field(
        0.0, ge=0, le=2, description="while tools are offered; 0 = the model's likeliest choice, every time"
    )
    seed: int = Field(-1, ge=-1, description="-1 = random; a fixed seed makes answers repeatable")
    system_prompt: str = Field(DEFAULT_SYSTEM_PROMPT, description="what the model is told before each chat")
    server_url: str = Field(
        "",
        description='OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1; "" = run the model locally',
    )
    server_model: str = Field("", description="the model name the server expects")
    api_key: str = Field("", description="sent as a Bearer token to the server, if set")

    @field_validator("context_size")
    @classmethod
    def _check_context(cls, value: int) -> int:
        if value != 0 and not 256 <= value <= 131072:
            raise ValueError("should be 0 (the manifest's) or between 256 and 131072")
        return value

    @field_validator("server_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        value = value.strip()
        if value and not re.match(r"https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        return value.rstrip("/")


class TtsSettings(_Section):
    """Text-to-speech (hibari, Piper, sherpa-onnx voices; sori voice list)."""

    voice: str = Field(
        "",
        description='"" = the profile\'s; a catalog id, a Piper .onnx, a sherpa-onnx model folder, '
        'or "pocket:NAME" (a voice made with sori voice clone)',
    )
    pocket_model: str = Field(
        "", description='Pocket TTS model folder; "" = a sherpa-onnx-pocket-tts-* folder in the models folder'
    )
    speaking_rate: float = Field(1.0, ge=0.5, le=2.0, description="0.5..2.0")
    loudness_dbfs: float = Field(
        -20.0, ge=-40.0, le=0.0, description="every voice's speech at this level (peaks under -1); 0 = as is"
    )


class AudioSettings(_Section):
    """Sound devices; an int (or a string of digits) is a device index, other text a name."""

    input_device: str | int = Field("", description='name or index; "" = system default')
    output_device: str | int = Field("", description='name or index; "" = system default')
    # WebRTC's audio processing on the microphone, before the VAD, barge-in and Whisper (audio/frontend.py).
    echo_cancellation: bool = Field(True, description="remove Sori's own voice from what the mic hears")
    noise_suppression: bool = Field(True, description="turn down steady noise (fans, hum) for barge-in")
    gain_control: bool = Field(False, description="even out the microphone level (quiet or distant voices)")

    @field_validator("input_device", "output_device")
    @classmethod
    def _index_or_name(cls, value: str | int) -> str | int:
        # CLI flags arrive as strings; "3" means index 3 as it would in the file.
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        if isinstance(value, int) and value < 0:
            raise ValueError("a device index cannot be negative")
        return value.strip() if isinstance(value, str) else value


class PluginSettings(_Section):
    """Where plugins are found, besides the built-in folder."""

    dirs: list[Path] = Field(default_factory=list, description="extra plugin folders")
    enabled: bool = Field(True, description="let the model call tools (built-in and plugins)")
    timeout_s: float = Field(15.0, gt=0, le=600, description="a tool still running after this is abandoned")
    load_timeout_s: float = Field(
        10.0, gt=0, le=600, description="a plugin file still loading after this is disabled (a loop, a wait)"
    )
    max_result_chars: int = Field(4000, ge=200, le=100_000, description="longer tool results are cut")
    fast_path: bool = Field(True, description="run a tool at once when a request plainly matches it")
    fast_path_reply: Literal["template", "model"] = Field(
        "template", description="after a fast-path call: a fixed sentence, or let the model phrase it"
    )
    call_threshold: float = Field(
        0.35,
        ge=0.0,
        le=1.0,
        description="call a tool when the model gives a call at least this probability (local models)",
    )

    @field_validator("dirs")
    @classmethod
    def _expand(cls, value: list[Path]) -> list[Path]:
        return [p.expanduser() for p in value]


class VoiceSettings(_Section):
    """Hands-free conversation: when a turn ends, interruptions, Sori's own voice."""

    vad_aggressiveness: int = Field(
        2, ge=0, le=3, description="webrtcvad: 0 = keeps most audio .. 3 = strictest"
    )
    min_speech_ms: int = Field(250, ge=60, le=2000, description="shorter sounds (coughs, clicks) are no turn")
    end_silence_ms: int = Field(700, ge=200, le=5000, description="silence that ends a turn")
    speculative_silence_ms: int = Field(
        200, ge=60, le=2000, description="silence after which transcription starts early"
    )
    early_end: bool = Field(
        True, description="end the turn at the short silence when what was said is plainly finished"
    )
    turn_end_threshold: float = Field(
        0.07,
        ge=0.0,
        le=1.0,
        description="the chat model's probability that the user's turn is over, above which it ends early",
    )
    turn_hold_threshold: float = Field(
        0.01,
        ge=0.0,
        le=1.0,
        description="after end_silence_ms of silence, the probability below which Sori waits as long again",
    )
    barge_in: bool = Field(True, description="speaking while Sori talks interrupts it (off for loudspeakers)")
    echo_margin: float = Field(
        2.0, ge=1.0, le=20.0, description="the simple canceller's margin (the baseline of sori bench echo)"
    )
    filler: str = Field("One moment.", description='said once while a slow tool runs; "" = nothing')
    confirm_timeout_s: float = Field(
        15.0, ge=2.0, le=120.0, description="how long a spoken yes/no question waits for an answer (then: no)"
    )


class Settings(_Section):
    """All of Sori's settings; every key has a default."""

    profile: Literal["default", "small"] = Field("default", description='"default" | "small"')
    stt: SttSettings = Field(default_factory=SttSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    tts: TtsSettings = Field(default_factory=TtsSettings)
    audio: AudioSettings = Field(default_factory=AudioSettings)
    voice: VoiceSettings = Field(default_factory=VoiceSettings)
    plugins: PluginSettings = Field(default_factory=PluginSettings)


_HEADER_RE = re.compile(r"^\s*\[\[?\s*([^\[\]]+?)\s*\]\]?\s*(#.*)?$")
_PART = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_KEY_RE = re.compile(rf"^\s*({_PART}(?:\s*\.\s*{_PART})*)\s*=")


def _split_key(raw: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in raw.split("."))


def find_key_line(text: str, dotted: str) -> int | None:
    """Return the 1-based line where `dotted` (e.g. "llm.temperature") is set in TOML `text`, if found.

    A key that is not written itself (a list item, a key in an inline table) falls back to its
    nearest written parent, so the user still lands near the problem.
    """
    wanted = tuple(dotted.split("."))
    found: dict[tuple[str, ...], int] = {}
    section: tuple[str, ...] = ()
    open_quote = ""  # inside a multi-line string (a long system_prompt), lines are not keys
    for number, line in enumerate(text.splitlines(), start=1):
        if open_quote:
            open_quote = "" if open_quote in line else open_quote
            continue
        header = _HEADER_RE.match(line)
        if header:
            section = _split_key(header.group(1))
            found.setdefault(section, number)
            continue
        key = _KEY_RE.match(line)
        if key:
            found.setdefault(section + _split_key(key.group(1)), number)
            rest = line[key.end() :]
            open_quote = next((q for q in ('"""', "'''") if rest.count(q) == 1), "")
    for end in range(len(wanted), 0, -1):
        if wanted[:end] in found:
            return found[wanted[:end]]
    return None


def _valid_keys(model: type[BaseModel], loc: tuple[str, ...]) -> list[str]:
    # Walk down the models along the parent of the unknown key.
    for part in loc[:-1]:
        field = model.model_fields.get(part)
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def _describe(error: Any) -> tuple[str, str]:
    """(dotted key, what is wrong and what to do) for one pydantic error."""
    loc = tuple(str(part) for part in error["loc"])
    dotted = ".".join(loc) or "(top level)"
    if error["type"] == "extra_forbidden":
        return dotted, f"unknown key (valid keys: {', '.join(_valid_keys(Settings, loc))})"
    message = error["msg"].removeprefix("Value error, ")
    return dotted, " ".join(message.split())


def _validation_error(err: ValidationError, where: str, text: str | None, hint: str) -> ConfigError:
    problems = []
    for error in err.errors():
        dotted, problem = _describe(error)
        line = find_key_line(text, dotted) if text is not None else None
        problems.append((line or 0, dotted, problem))
    # Report the problem nearest the top of the file; the rest are only counted, to stay on one line.
    line, dotted, problem = min(problems, key=lambda p: (p[0] == 0, p[0]))
    prefix = f"{where}:{line}" if line else where
    if not problem.startswith("unknown key"):
        problem = f"{problem} ({hint})"
    more = f" [and {len(problems) - 1} more problem(s)]" if len(problems) > 1 else ""
    return ConfigError(f"{prefix}: {dotted}: {problem}{more}")


def load_settings(path: Path | None = None) -> Settings:
    """Read and validate the config file (default: paths.config_file()); a missing file gives defaults."""
    path = path if path is not None else paths.config_file()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"{path}: cannot read the config file: {reason} (check its permissions)") from exc
    try:
        # utf-8-sig: some editors on Windows add a BOM that TOML itself does not allow.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}:{line}: the config file is not UTF-8 text (save it as UTF-8, or delete it for defaults)"
        ) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\(at line (\d+), column \d+\)", message)
        line = int(match.group(1)) if match else max(1, len(text.splitlines()))
        message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)
        raise ConfigError(f"{path}:{line}: invalid TOML: {message} ({EDIT_HINT})") from exc
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc, str(path), text, EDIT_HINT) from None


def apply_overrides(s: Settings, **dotted: object) -> Settings:
    """Return a copy of `s` with dotted keys replaced (e.g. {"llm.model": "/x.gguf"}), re-validated.

    A value of None means "not given" and is skipped, so CLI flags can be passed straight through.
    """
    data = s.model_dump()
    for key, value in dotted.items():
        if value is None:
            continue
        parts = key.split(".")
        target: Any = data
        for part in parts[:-1]:
            if not isinstance(target.get(part), dict):
                sections = ", ".join(Settings.model_fields)
                raise ConfigError(f"{key}: unknown setting (valid sections and keys: {sections})")
            target = target[part]
        if parts[-1] not in target:
            valid = ", ".join(_valid_keys(Settings, tuple(parts)))
            raise ConfigError(f"{key}: unknown setting (valid keys: {valid})")
        target[parts[-1]] = value
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc, "option", None, "check the command-line option") from None


_SECRET_LINE = re.compile(
    r'^(\s*[\w.-]*(?:api_?key|token|secret|password|passwd|credential)[\w.-]*\s*=\s*)"(.+)"\s*$',
    re.IGNORECASE | re.MULTILINE,
)


def mask_secrets(toml_text: str) -> str:
    """Hide the values of secret-looking keys (api_key, token, password...) in TOML shown on screen."""
    return _SECRET_LINE.sub(lambda m: f'{m.group(1)}"********"', toml_text)


def settings_to_toml(s: Settings) -> str:
    """The settings as TOML text (for 'sori config show')."""
    return tomli_w.dumps(s.model_dump(mode="json"))


def _template_lines(model: BaseModel) -> list[str]:
    lines = []
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            continue
        dumped = tomli_w.dumps({name: _plain(value)}, multiline_strings=False).strip()
        dumped = " ".join(dumped.split()) if isinstance(value, list) else dumped
        lines.append(f"# {dumped}")
        if field.description:
            lines[-1] += f"  # {field.description}"
    return lines


def _plain(value: Any) -> Any:
    return [str(item) for item in value] if isinstance(value, list) else value


def default_config_text() -> str:
    """A commented TOML template of the defaults, for 'sori config edit' to start from."""
    defaults = Settings()
    out = [
        "# Sori settings. Every key is optional; the commented lines show the defaults.",
        "# Remove the leading '# ' from a line to change that setting.",
        "",
        *_template_lines(defaults),
    ]
    for name in type(defaults).model_fields:
        section = getattr(defaults, name)
        if isinstance(section, BaseModel):
            doc = (type(section).__doc__ or "").strip().splitlines()[0]
            out += ["", f"[{name}]", f"# {doc}", *_template_lines(section)]
    return "\n".join(out) + "\n"
