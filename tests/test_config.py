"""Tests for assistant.config: defaults, valid files, one-line errors with line numbers, overrides."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from assistant import config
from assistant.config import (
    ConfigError,
    LlmSettings,
    Settings,
    apply_overrides,
    default_config_text,
    find_key_line,
    load_settings,
    settings_to_toml,
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Never read the real user's config, even by accident.
    monkeypatch.setenv("SORI_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("SORI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SORI_CONFIG", raising=False)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_defaults_when_file_missing(tmp_path: Path) -> None:
    s = load_settings(tmp_path / "nope.toml")
    assert s == Settings()
    assert s.profile == "default"
    assert s.stt.device == "auto" and s.stt.beam_size == 1 and s.stt.language == ""
    assert s.llm.n_gpu_layers == -1 and s.llm.max_tokens == 512 and s.llm.temperature == 0.7
    assert s.llm.system_prompt.startswith("You are Sori")
    assert s.tts.speaking_rate == 1.0
    assert s.audio.input_device == "" and s.plugins.dirs == []


def test_default_path_follows_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings() == Settings()  # nothing at SORI_CONFIG_DIR yet
    path = write(tmp_path, 'profile = "small"\n')
    monkeypatch.setenv("SORI_CONFIG", str(path))
    assert load_settings().profile == "small"


def test_valid_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
profile = "small"
[stt]
model = "/models/whisper"
language = "EN"
device = "cpu"
beam_size = 5
[llm]
model = "~/x.gguf"
context_size = 4096
temperature = 0  # an int where a float is expected is fine
server_url = "http://127.0.0.1:8080/v1/"
[tts]
speaking_rate = 1.5
[audio]
input_device = 2
output_device = "USB Headset"
[plugins]
dirs = ["~/sori-plugins", "/opt/p"]
""",
    )
    s = load_settings(path)
    assert s.profile == "small"
    assert (s.stt.model, s.stt.language, s.stt.device, s.stt.beam_size) == ("/models/whisper", "en", "cpu", 5)
    assert s.llm.context_size == 4096 and s.llm.temperature == 0.0
    assert s.llm.server_url == "http://127.0.0.1:8080/v1"
    assert s.tts.speaking_rate == 1.5
    assert s.audio.input_device == 2 and s.audio.output_device == "USB Headset"
    assert s.plugins.dirs == [Path("~/sori-plugins").expanduser(), Path("/opt/p")]
    assert s.llm.max_tokens == 512  # untouched keys keep their defaults


def test_out_of_range_value_names_file_line_and_key(tmp_path: Path) -> None:
    path = write(
        tmp_path, '# my settings\nprofile = "default"\n\n[stt]\nbeam_size = 2\n\n[llm]\ntemperature = 3\n'
    )
    message = error_of(path)
    assert message == (
        f"{path}:8: llm.temperature: Input should be less than or equal to 2"
        " (edit it with 'sori config edit')"
    )


def test_unknown_key_lists_valid_keys(tmp_path: Path) -> None:
    path = write(tmp_path, '[stt]\nlanguage = "en"\nmodle = "base"\n')
    assert error_of(path) == (
        f"{path}:3: stt.modle: unknown key (valid keys: model, language, device, beam_size)"
    )


def test_unknown_section_and_top_level_key(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "[stt]\nbeam_size = 1\n\n[speech]\nrate = 1\n"))
    assert ":4: speech: unknown key (valid keys: profile, stt, llm, tts, audio, voice, plugins)" in message


@pytest.mark.parametrize(
    ("text", "line", "key", "wrong"),
    [
        ('profile = "huge"\n', 1, "profile", "Input should be 'default' or 'small'"),
        ('[stt]\ndevice = "gpu"\n', 2, "stt.device", "Input should be 'auto', 'cpu' or 'cuda'"),
        ("[stt]\nbeam_size = 0\n", 2, "stt.beam_size", "greater than or equal to 1"),
        ('[stt]\nlanguage = "english"\n', 2, "stt.language", "is not a language code"),
        ("[llm]\ncontext_size = 100\n", 2, "llm.context_size", "between 256 and 131072"),
        ('[llm]\nserver_url = "localhost:8080"\n', 2, "llm.server_url", "not an http:// or https:// URL"),
        ("[llm]\nmax_tokens = 9000\n", 2, "llm.max_tokens", "less than or equal to 8192"),
        ("[llm]\nmodel = 5\n", 2, "llm.model", "Input should be a valid string"),
        ("[tts]\n  speaking_rate   =   3.0\n", 2, "tts.speaking_rate", "less than or equal to 2"),
        ("llm.temperature = -1\n", 1, "llm.temperature", "greater than or equal to 0"),
        ('[plugins]\ndirs = "one"\n', 2, "plugins.dirs", "valid list"),
        ("[plugins]\ndirs = [\n  1,\n]\n", 2, "plugins.dirs.0", "valid path"),
        ("stt = 3\n", 1, "stt", "valid dictionary"),
    ],
)
def test_invalid_values(tmp_path: Path, text: str, line: int, key: str, wrong: str) -> None:
    path = write(tmp_path, text)
    message = error_of(path)
    assert message.startswith(f"{path}:{line}: {key}: ")
    assert wrong in message


def test_several_problems_still_one_line(tmp_path: Path) -> None:
    # Field order would report max_tokens first; the file's order wins.
    message = error_of(write(tmp_path, "[llm]\ntemperature = 5\nmax_tokens = 0\n"))
    assert ":2: llm.temperature:" in message and message.endswith("[and 1 more problem(s)]")


def test_toml_syntax_error_has_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[stt]\nmodel = "base"\nlanguage = \n')
    message = error_of(path)
    assert message.startswith(f"{path}:3: invalid TOML: ")
    assert "(at line" not in message and "sori config edit" in message

    message = error_of(write(tmp_path, "[llm]\nmodel = 'x'\n[llm]\n"))
    assert re.match(rf"{re.escape(str(path))}:3: invalid TOML: Cannot declare", message)


def test_toml_error_at_end_of_document(tmp_path: Path) -> None:
    path = write(tmp_path, "[stt]\nmodel = ")
    assert error_of(path).startswith(f"{path}:2: invalid TOML: Invalid value (edit it")
    path = write(tmp_path, '[stt]\nmodel = "unterminated\n')
    assert error_of(path).startswith(f"{path}:2: invalid TOML: Illegal character")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[stt]\nmodel = "caf\xe9"\n')
    message = error_of(path)
    assert message.startswith(f"{path}:2: the config file is not UTF-8 text")


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes('\ufeffprofile = "small"\n'.encode())
    assert load_settings(path).profile == "small"


def test_unreadable_file(tmp_path: Path) -> None:
    folder = tmp_path / "config.toml"
    folder.mkdir()  # a folder where the file should be: reading fails on every OS, even as root
    message = error_of(folder)
    assert message.startswith(f"{folder}: cannot read the config file: ")


def test_find_key_line() -> None:
    text = (
        'profile = "small"\n'
        "[stt]  # speech\n"
        "model = 'a'\n"
        '"language" = "en"\n'
        "[ llm ]\n"
        "temperature=1\n"
        "tts.voice = 'v'\n"
    )
    assert find_key_line(text, "profile") == 1
    assert find_key_line(text, "stt") == 2
    assert find_key_line(text, "stt.model") == 3
    assert find_key_line(text, "stt.language") == 4
    assert find_key_line(text, "stt.device") == 2  # not written: its section
    assert find_key_line(text, "llm.temperature") == 6
    assert find_key_line(text, "llm.tts.voice") == 7
    assert find_key_line(text, "audio.input_device") is None
    prompt = '[llm]\nsystem_prompt = """\nBe brief.\n[tts]\nvoice = 1\n"""\nvoice = "x"\n[[tts]]\n'
    assert find_key_line(prompt, "llm.voice") == 7  # the lines inside the string are text, not keys
    assert find_key_line(prompt, "tts") == 8


def test_multiline_prompt_then_error(tmp_path: Path) -> None:
    path = write(tmp_path, '[llm]\nsystem_prompt = """\nBe brief.\nmax_tokens = 1\n"""\nmax_tokens = 0\n')
    assert error_of(path).startswith(f"{path}:6: llm.max_tokens: ")


def test_apply_overrides(tmp_path: Path) -> None:
    base = load_settings(write(tmp_path, '[llm]\nmodel = "a.gguf"\ntemperature = 0.2\n'))
    s = apply_overrides(base, **{"llm.model": "/x.gguf", "stt.language": "DE", "profile": "small"})
    assert s.llm.model == "/x.gguf" and s.llm.temperature == 0.2
    assert s.stt.language == "de" and s.profile == "small"
    assert base.llm.model == "a.gguf"  # the original is left alone
    assert apply_overrides(base, **{"llm.model": None}) == base  # None = flag not given
    assert apply_overrides(base, **{"audio.input_device": "3"}).audio.input_device == 3


def test_apply_overrides_errors() -> None:
    with pytest.raises(ConfigError, match=r"^option: llm\.temperature: .*less than or equal to 2"):
        apply_overrides(Settings(), **{"llm.temperature": 9})
    with pytest.raises(ConfigError, match=r"llm\.modle: unknown setting \(valid keys: model, chat_format"):
        apply_overrides(Settings(), **{"llm.modle": "x"})
    with pytest.raises(ConfigError, match=r"lm\.model: unknown setting"):
        apply_overrides(Settings(), **{"lm.model": "x"})


def test_settings_to_toml_round_trip(tmp_path: Path) -> None:
    s = apply_overrides(
        Settings(), **{"llm.model": "/m.gguf", "plugins.dirs": ["/p"], "audio.input_device": 1}
    )
    text = settings_to_toml(s)
    assert 'model = "/m.gguf"' in text
    assert load_settings(write(tmp_path, text)) == s


def test_template_parses_back_to_defaults(tmp_path: Path) -> None:
    text = default_config_text()
    assert load_settings(write(tmp_path, text)) == Settings()
    # Every key is in the template; uncommenting them all must still give the defaults.
    uncommented = re.sub(r"(?m)^# (?=[a-z_]+ = )", "", text)
    assert uncommented != text
    data = tomllib.loads(uncommented)
    assert set(data) == set(Settings.model_fields)
    assert set(data["llm"]) == set(LlmSettings.model_fields)
    assert load_settings(write(tmp_path, uncommented)) == Settings()


def test_models_forbid_extra() -> None:
    for model in (Settings, config.SttSettings, LlmSettings, config.TtsSettings, config.AudioSettings):
        assert model.model_config.get("extra") == "forbid"
    assert config.PluginSettings.model_config.get("extra") == "forbid"
