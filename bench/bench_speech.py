"""Speech: Polly and Transcribe through boto3 vs the raw engines underneath, same inputs, same run.

Polly: sentences/s and mean latency of `synthesize_speech` (pcm and mp3) against piper's own command-line
program fed the same sentences one per line (warm, writing WAV files) — piper is GPL-3.0, so it is measured
as the program Outcrop runs, never imported. Transcribe: jobs from StartTranscriptionJob to COMPLETED
(polled every 50 ms) against faster-whisper in this process on the same clips with the same settings
(Whisper base, int8, beam 5, word timestamps). The machine's cores are shared: expect noisy figures.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from common import ROOT, outcrop_server

sys.path.insert(0, str(ROOT / "src"))

from outcrop.backends.packaged import ModelFiles, package_file
from outcrop.backends.speech.audio import decode
from outcrop.backends.speech.engines import PIPER_VOICE_FILE, PIPER_VOICE_PACKAGE
from outcrop.backends.speech.whisper import load as load_whisper
from outcrop.catalog import BUNDLED, load_catalog

SENTENCES = [
    "The quarterly report is due on Friday afternoon.",
    "Please remember to water the plants before you leave.",
    "Our servers answer every request with a local model.",
    "The train to the airport leaves every twenty minutes.",
    "She opened the window and listened to the rain.",
    "A good benchmark measures the same work twice.",
    "The museum closes early on public holidays.",
    "Turn left at the second traffic light after the bridge.",
]


class RawPiper:
    """Piper's CLI, kept warm: one line in, one WAV file out (its log line says which)."""

    def __init__(self, out: str) -> None:
        model = package_file(PIPER_VOICE_PACKAGE, PIPER_VOICE_FILE)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "piper", "--model", str(model), "--output-dir", out],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def say(self, line: str) -> float:
        stdin, stderr = self.process.stdin, self.process.stderr
        assert stdin is not None and stderr is not None
        started = time.perf_counter()
        stdin.write(line + "\n")
        while "Wrote" not in stderr.readline():
            pass
        return time.perf_counter() - started

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait()


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def synthesize(polly: Any, text: str, output_format: str) -> None:
    polly.synthesize_speech(Text=text, VoiceId="Joanna", OutputFormat=output_format)["AudioStream"].read()


def bench_polly(polly: Any) -> dict[str, list[float]]:
    """Interleaved sentence by sentence, so that load from other processes hits each side alike."""
    times: dict[str, list[float]] = {"raw": [], "pcm": [], "mp3": []}
    with tempfile.TemporaryDirectory() as out:
        raw = RawPiper(out)
        raw.say("Warm up.")
        for output_format in ("pcm", "mp3"):
            polly.synthesize_speech(Text="Warm up.", VoiceId="Joanna", OutputFormat=output_format)
        for sentence in SENTENCES:
            times["raw"].append(raw.say(sentence))
            for output_format in ("pcm", "mp3"):
                times[output_format].append(timed(partial(synthesize, polly, sentence, output_format)))
        raw.close()
    return times


def bench_transcribe(server: Any, clips: list[bytes], models_dir: Path) -> dict[str, Any]:
    s3, transcribe = server.client("s3"), server.client("transcribe")
    s3.create_bucket(Bucket="bench-media")
    for index, clip in enumerate(clips):
        s3.put_object(Bucket="bench-media", Key=f"clip{index}.mp3", Body=clip)

    def run(name: str, index: int) -> None:
        transcribe.start_transcription_job(
            TranscriptionJobName=name,
            Media={"MediaFileUri": f"s3://bench-media/clip{index}.mp3"},
            LanguageCode="en-US",
        )

    def transcribe_raw(clip: bytes) -> None:
        engine.transcribe(decode(clip), "en")

    def run_and_wait(name: str, index: int) -> None:
        run(name, index)
        wait(name)

    def wait(name: str) -> None:
        while True:
            job = transcribe.get_transcription_job(TranscriptionJobName=name)["TranscriptionJob"]
            if job["TranscriptionJobStatus"] == "COMPLETED":
                return
            if job["TranscriptionJobStatus"] == "FAILED":
                raise SystemExit(f"job {name} failed: {job.get('FailureReason')}")
            time.sleep(0.05)

    engine = load_whisper("whisper-base", load_catalog(BUNDLED).local["whisper-base"], ModelFiles(models_dir))
    engine.transcribe(decode(clips[0]), "en")  # both models loaded outside the timing
    run("warm-up", 0)
    wait("warm-up")
    raw: list[float] = []
    ours: list[float] = []
    for index, clip in enumerate(clips):
        raw.append(timed(partial(transcribe_raw, clip)))
        ours.append(timed(partial(run_and_wait, f"one-{index}", index)))
    started = time.perf_counter()
    for index in range(len(clips)):
        run(f"all-{index}", index)
    for index in range(len(clips)):
        wait(f"all-{index}")
    return {"raw": raw, "ours": ours, "queued": time.perf_counter() - started}


def main() -> None:
    with outcrop_server(fake_models=False) as server:
        polly = server.client("polly")
        tts = bench_polly(polly)
        clips = [
            polly.synthesize_speech(Text=s, VoiceId="Matthew", OutputFormat="mp3")["AudioStream"].read()
            for s in SENTENCES[:4]
        ]
        audio_seconds = sum(len(decode(c)) / 16000 for c in clips)
        stt = bench_transcribe(server, clips, ROOT / "data" / "models")

    def row(name: str, seconds: list[float]) -> str:
        rate = len(seconds) / sum(seconds)
        return f"  {name:<36} {rate:6.2f} sentences/s  median {statistics.median(seconds):5.2f} s"

    print(f"\nPolly, piper en_US joe medium, {len(SENTENCES)} sentences, interleaved, same run")
    print(row("raw piper CLI, warm (baseline)", tts["raw"]))
    print(row("Outcrop synthesize_speech pcm", tts["pcm"]))
    print(row("Outcrop synthesize_speech mp3", tts["mp3"]))
    for output_format in ("pcm", "mp3"):
        ratio = sum(tts["raw"]) / sum(tts[output_format])
        print(f"  throughput ratio {output_format}: {ratio:.2f} (1.0 = no overhead)")
    raw, ours = stt["raw"], stt["ours"]
    print(f"\nTranscribe, Whisper base int8, {len(clips)} clips, {audio_seconds:.1f} s of audio, interleaved")
    print(f"  raw faster-whisper in-process (baseline)  median {statistics.median(raw):5.2f} s/clip")
    print(f"  Outcrop job start -> COMPLETED            median {statistics.median(ours):5.2f} s/clip")
    print(f"  latency ratio {sum(raw) / sum(ours):.2f} (1.0 = no overhead)")
    queued = stt["queued"]
    print(f"  {len(clips)} jobs queued at once: {queued:5.2f} s, {queued / audio_seconds:.2f} x real time")


if __name__ == "__main__":
    main()
