"""Drives `hfx serve` with the real OpenAI Python client (tools/serve/requirements.txt pins it).

usage: openai_client.py BASE_URL {embeddings|completions|chat} OUT.json
embeddings: client.embeddings.create with a list of texts, the client's default encoding (it asks for base64 and
decodes it) and encoding_format="float"; completions: a greedy completion and a greedy streamed one (the text of
every chunk joined); chat: client.chat.completions.create, greedy, plain and streamed (the role of the first
delta, the content of every delta joined). Writes what the client returned as JSON, for the C++ test to compare with hfx's library.
"""
import json
import sys

from openai import OpenAI


def main() -> None:
    base, what, out = sys.argv[1], sys.argv[2], sys.argv[3]
    client = OpenAI(base_url=base, api_key="unused", max_retries=0, timeout=60)
    result = {}
    if what == "embeddings":
        texts = ["A man is eating food.", "hello"]
        default = client.embeddings.create(model="fixture", input=texts)
        floats = client.embeddings.create(model="fixture", input=texts, encoding_format="float")
        result = {
            "default": [d.embedding for d in default.data],
            "float": [d.embedding for d in floats.data],
            "model": default.model,
            "prompt_tokens": default.usage.prompt_tokens,
        }
    elif what == "chat":
        messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": " hello world "}]
        c = client.chat.completions.create(model="fixture", messages=messages, max_tokens=6, temperature=0)
        content, role, finish = "", None, None
        for chunk in client.chat.completions.create(model="fixture", messages=messages, max_completion_tokens=6, temperature=0,
                                                    stream=True):
            delta = chunk.choices[0].delta
            role = role or delta.role
            content += delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        result = {
            "content": c.choices[0].message.content,
            "role": c.choices[0].message.role,
            "finish_reason": c.choices[0].finish_reason,
            "prompt_tokens": c.usage.prompt_tokens,
            "completion_tokens": c.usage.completion_tokens,
            "stream_content": content,
            "stream_role": role,
            "stream_finish_reason": finish,
        }
    else:
        c = client.completions.create(model="fixture", prompt="hello world", max_tokens=6, temperature=0)
        text = ""
        finish = None
        for chunk in client.completions.create(model="fixture", prompt="hello world", max_tokens=6, temperature=0, stream=True):
            text += chunk.choices[0].text
            finish = chunk.choices[0].finish_reason or finish
        result = {
            "text": c.choices[0].text,
            "finish_reason": c.choices[0].finish_reason,
            "completion_tokens": c.usage.completion_tokens,
            "stream_text": text,
            "stream_finish_reason": finish,
        }
    with open(out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
