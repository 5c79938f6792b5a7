"""Model runtimes (llama.cpp, ONNX, remote OpenAI-compatible, fakes) behind the contract in `base`."""
