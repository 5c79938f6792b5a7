"""Mono 16-bit audio in memory, and its conversion to and from container formats through PyAV (FFmpeg).

PyAV already comes with faster-whisper and its wheels carry LAME, FFmpeg's Vorbis encoder and libopus, so
one library decodes every media format Transcribe accepts and encodes every format Polly returns.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, cast

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # PyAV loads FFmpeg's libraries: imported on first use, not at server start-up
    import av


class AudioDecodeError(ValueError):
    """The bytes are not audio that FFmpeg can read."""


class UnsupportedAudioFormat(ValueError):
    """An output format this module cannot write."""


@dataclass(frozen=True)
class Audio:
    """Mono signed 16-bit samples at `rate` Hz."""

    samples: npt.NDArray[np.int16]
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate

    def __add__(self, other: Audio) -> Audio:
        if other.rate != self.rate:
            other = resample(other, self.rate)
        return Audio(np.concatenate([self.samples, other.samples]), self.rate)

    def scaled(self, gain: float) -> Audio:
        louder = np.clip(self.samples.astype(np.float32) * gain, -32768, 32767)
        return Audio(louder.astype(np.int16), self.rate)


def silence(milliseconds: int, rate: int) -> Audio:
    return Audio(np.zeros(rate * milliseconds // 1000, dtype=np.int16), rate)


def empty(rate: int) -> Audio:
    return Audio(np.zeros(0, dtype=np.int16), rate)


def from_wav(data: bytes) -> Audio:
    """A 16-bit PCM WAV file (what piper and espeak-ng write), downmixed to mono."""
    with wave.open(io.BytesIO(data)) as reader:
        if reader.getsampwidth() != 2:
            raise AudioDecodeError(f"expected 16-bit WAV, got {8 * reader.getsampwidth()}-bit")
        channels = reader.getnchannels()
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
        rate = reader.getframerate()
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return Audio(samples.astype(np.int16), rate)


def resample(audio: Audio, rate: int) -> Audio:
    import av

    if audio.rate == rate or len(audio.samples) == 0:
        return Audio(audio.samples, rate)
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    frame = _frame(audio, "s16")
    chunks = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    out = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    return Audio(out.astype(np.int16), rate)


def _frame(audio: Audio, sample_format: str, layout: str = "mono") -> av.AudioFrame:
    import av

    samples = audio.samples.reshape(1, -1)
    if layout == "stereo":
        samples = (
            np.repeat(samples, 2, axis=0) if sample_format.endswith("p") else np.repeat(samples, 2)[None]
        )
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format=sample_format, layout=layout)
    frame.sample_rate = audio.rate
    return frame


# format name -> (container, codec, channel layout). FFmpeg's own Vorbis encoder only writes stereo.
_CONTAINERS = {
    "mp3": ("mp3", "libmp3lame", "mono"),
    "ogg_vorbis": ("ogg", "vorbis", "stereo"),
    "ogg_opus": ("ogg", "libopus", "mono"),
}


def encode(audio: Audio, output_format: str) -> bytes:
    """`pcm` (raw little-endian 16-bit), `mulaw`/`alaw` (raw G.711), `wav`, or a compressed container."""
    import av

    if output_format == "pcm":
        return audio.samples.astype("<i2").tobytes()
    if output_format in ("mulaw", "alaw"):
        return _g711(audio, output_format)
    if output_format == "wav":
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(audio.rate)
            writer.writeframes(audio.samples.astype("<i2").tobytes())
        return buffer.getvalue()
    if output_format not in _CONTAINERS:
        raise UnsupportedAudioFormat(output_format)
    if not len(audio.samples):  # a valid file of 10 ms of silence: encoders stall on no input at all
        audio = silence(10, audio.rate)
    container_name, codec, layout = _CONTAINERS[output_format]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container_name) as container:
        stream = cast("av.AudioStream", container.add_stream(codec, rate=audio.rate, layout=layout))
        if codec == "vorbis":
            stream.codec_context.options = {"strict": "experimental"}
        encoder_format = stream.codec_context.format.name
        resampler = av.AudioResampler(format=encoder_format, layout=layout, rate=audio.rate)
        frames = (
            [*resampler.resample(_frame(audio, "s16")), *resampler.resample(None)]
            if len(audio.samples)
            else []
        )
        for frame in frames:
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def _g711(audio: Audio, law: str) -> bytes:
    import av

    codec = av.CodecContext.create("pcm_mulaw" if law == "mulaw" else "pcm_alaw", "w")
    codec.sample_rate = audio.rate
    codec.layout = "mono"
    codec.format = "s16"
    codec.open()
    if not len(audio.samples):
        return b""
    packets = [*codec.encode(_frame(audio, "s16")), *codec.encode(None)]
    return b"".join(bytes(packet) for packet in packets)


def decode(media: bytes | BinaryIO, rate: int = 16000) -> npt.NDArray[np.float32]:
    """Any audio or video file FFmpeg reads, as mono float32 at `rate` Hz (Whisper's input)."""
    import av

    source = io.BytesIO(media) if isinstance(media, bytes) else media
    try:
        with av.open(source, "r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioDecodeError("the media has no audio stream")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
            chunks: list[npt.NDArray[np.int16]] = []
            for frame in container.decode(audio=0):
                chunks += [_samples(f) for f in resampler.resample(frame)]
            chunks += [_samples(f) for f in resampler.resample(None)]
    except av.FFmpegError as error:
        raise AudioDecodeError(f"the media could not be decoded: {error}") from None
    if not chunks:
        raise AudioDecodeError("the media holds no audio samples")
    return np.concatenate(chunks).astype(np.float32) / 32768.0


def _samples(frame: av.AudioFrame) -> npt.NDArray[np.int16]:
    return frame.to_ndarray().reshape(-1).astype(np.int16, copy=False)


def probe_format(media: bytes) -> str:
    """FFmpeg's name for the container of `media` (e.g. 'wav', 'mp3', 'ogg', 'mov,mp4,m4a,3gp,3g2,mj2')."""
    import av

    try:
        with av.open(io.BytesIO(media), "r") as container:
            return str(container.format.name)
    except av.FFmpegError as error:
        raise AudioDecodeError(f"the media could not be read: {error}") from None


def sample_rate(media: bytes) -> int | None:
    """The sample rate of the first audio stream, or None when the media cannot be read."""
    import av

    try:
        with av.open(io.BytesIO(media), "r") as container:
            streams = container.streams.audio
            return int(streams[0].codec_context.sample_rate) if streams else None
    except av.FFmpegError:
        return None
