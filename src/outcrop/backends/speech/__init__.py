"""Speech runtimes: text to speech (piper and espeak-ng as child programs), speech to text (faster-whisper),
and the audio encoding and decoding around them (PyAV). Nothing here knows about AWS."""
