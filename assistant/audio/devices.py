"""Sound devices as PortAudio sees them (for `sori devices`, `sori doctor` and the settings)."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.errors import SoriError


@dataclass(frozen=True)
class Device:
    index: int
    name: str
    inputs: int
    outputs: int
    default_rate: int


def list_devices() -> list[Device]:
    """All devices; raises SoriError with a fix when PortAudio itself is missing."""
    try:
        import sounddevice as sd

        raw = sd.query_devices()
    except OSError as exc:  # libportaudio2 not installed
        raise SoriError(f"audio is unavailable ({exc}); fix: sudo apt-get install libportaudio2") from None
    except Exception as exc:  # PortAudioError: no host API, no devices
        raise SoriError(f"audio devices cannot be listed ({exc})") from None
    return [
        Device(
            i,
            d["name"],
            int(d["max_input_channels"]),
            int(d["max_output_channels"]),
            int(d["default_samplerate"]),
        )
        for i, d in enumerate(raw)
    ]


def print_devices() -> int:
    devices = list_devices()
    for kind, attr in (("inputs", "inputs"), ("outputs", "outputs")):
        found = [d for d in devices if getattr(d, attr) > 0]
        print(f"{kind}:")
        for d in found:
            print(f"  [{d.index}] {d.name} ({getattr(d, attr)} ch, {d.default_rate} Hz)")
        if not found:
            print("  none")
    print("choose one with [audio] input_device / output_device in the config (a name or an index)")
    return 0
