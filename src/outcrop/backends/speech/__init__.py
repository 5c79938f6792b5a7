"""Speech models: the `speech-to-text` and `text-to-speech` kinds (`protocols`), their runtimes
(faster-whisper in `whisper`; piper and espeak-ng as child programs in `engines`) and fakes (`fake`), and
the audio, script and lexicon handling around them (`audio`, `text`, `lexicon`, `synth`). Nothing here
knows about AWS."""
