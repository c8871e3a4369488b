#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

Run once from the repository root after building (it uses build/bitstack to
make small .bstk files); the output is committed, so neither the tests nor CI
run this. Standard library only. Seeds are real files of the repository (or
made from them) plus small crafted ones; each stays well under 1 MB.

    python3 tests/fuzz/make_seeds.py [build/bitstack]
"""
import json
import os
import random
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")
SEP = b"\n@@BSFUZZ@@\n"
BS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "bitstack")


def read(*path):
    with open(os.path.join(ROOT, *path), "rb") as f:
        return f.read()


def write(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data)


# ---- .bstk: files made by the compressor, with the harness's 5-byte prefix ----

def compress(src, out, extra, tmp):
    calib = os.path.join(tmp, "calib.txt")
    with open(calib, "wb") as f:
        f.write(read("models", "stories260K", "calib.txt")[:20000])
    cmd = [BS, "compress", src, out, "--calib", calib, "--calib-windows", "2", "--sort-windows", "1",
           "--curve-windows", "1", "--calib-ctx", "32"] + extra
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(out, "rb") as f:
        return f.read()


def bstk_seeds():
    with tempfile.TemporaryDirectory() as tmp:
        s260 = compress(os.path.join(ROOT, "models/stories260K/stories260K.bin"), os.path.join(tmp, "s.bstk"),
                        ["--tokenizer", os.path.join(ROOT, "models/stories260K/tok512.bin"), "--blocks", "2"], tmp)
        tiny = compress(os.path.join(ROOT, "tests/data/gguf/tiny_llama.gguf"), os.path.join(tmp, "t.bstk"),
                        ["--blocks", "3"], tmp)
        outl = compress(os.path.join(ROOT, "models/stories260K/stories260K.bin"), os.path.join(tmp, "o.bstk"),
                        ["--tokenizer", os.path.join(ROOT, "models/stories260K/tok512.bin"), "--blocks", "2",
                         "--outliers", "8", "--outlier-ratio", "1.2"], tmp)
        code8 = compress(os.path.join(ROOT, "models/stories260K/stories260K.bin"), os.path.join(tmp, "c.bstk"),
                         ["--tokenizer", os.path.join(ROOT, "models/stories260K/tok512.bin"), "--blocks", "2",
                          "--scale-bits", "8"], tmp)
        avd = compress(os.path.join(ROOT, "tests/data/gguf/tiny_llama.gguf"), os.path.join(tmp, "a.bstk"),
                       ["--method", "avd", "--blocks", "2"], tmp)
    whole = 0xFFFFFFFF

    def block_end(f, block):
        """Where block `block` of the stack ends: a prefix file that holds it."""
        n_entries, index_off = struct.unpack_from("<IQ", f, 44)[0], struct.unpack_from("<Q", f, 48)[0]
        n_resident = struct.unpack_from("<I", f, 76)[0]
        e = index_off + 32 * min(n_resident + block, n_entries - 1)
        off, size = struct.unpack_from("<QQ", f, e + 8)
        return off + size

    seeds = {
        "stories260k_planes_whole": (1, whole, s260),
        "stories260k_planes_attach": (3, whole, s260),
        "stories260k_planes_shrink_grow": (7, whole, s260),
        "stories260k_planes_cut_mid": (1, len(s260) * 2 // 3, s260),
        "stories260k_planes_prefix": (1, block_end(s260, 5), s260),
        "stories260k_planes_crc_as_is": (0, whole, s260),
        "tiny_bpe_planes_whole": (1, whole, tiny),
        "stories260k_planes_outliers": (1, whole, outl),
        "stories260k_planes_outliers_attach": (3, whole, outl),
        "stories260k_planes_scales8": (1, whole, code8),
        "stories260k_planes_scales8_attach": (3, whole, code8),
        "tiny_bpe_planes_attach_prefix": (3, block_end(tiny, 3), tiny),
        "tiny_bpe_avd_whole": (5, whole, avd),
        "header_only": (1, whole, tiny[:96]),
    }
    for name, (control, cut, data) in seeds.items():
        write("bstk", name, struct.pack("<BI", control, cut) + data)


# ---- llama2.c checkpoints: tiny crafted ones, legacy and version 1 ----

def llama2c(v1, shared, dim=8, hidden=16, layers=1, heads=2, kv=1, vocab=32, seq=16):
    rnd = random.Random(7)
    head = dim // heads
    n = (vocab * dim * (1 if shared else 2) + dim +
         layers * (2 * dim + dim * dim + 2 * kv * head * dim + dim * dim + 3 * hidden * dim))
    if not v1:
        n += seq * head
    weights = struct.pack("<%df" % n, *[rnd.uniform(-0.5, 0.5) for _ in range(n)])
    cfg = struct.pack("<7i", dim, hidden, layers, heads, kv, vocab if shared else -vocab, seq)
    if not v1:
        return cfg + weights
    hdr = struct.pack("<Ii", 0x616B3432, 1) + cfg + bytes([1 if shared else 0])
    return hdr + bytes(256 - len(hdr)) + weights


def llama2c_seeds():
    write("llama2c", "tiny_legacy_shared", llama2c(False, True))
    write("llama2c", "tiny_legacy_unshared", llama2c(False, False))
    write("llama2c", "tiny_v1_shared", llama2c(True, True))
    write("llama2c", "tiny_v1_unshared", llama2c(True, False, layers=2, kv=2))


# ---- GGUF: the repository's tiny model and a crafted file with every value type ----

def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf_all_types():
    kvs = [
        (gstr("general.architecture") + struct.pack("<I", 8) + gstr("llama")),
        (gstr("a.u8") + struct.pack("<IB", 0, 7)), (gstr("a.i8") + struct.pack("<Ib", 1, -7)),
        (gstr("a.u16") + struct.pack("<IH", 2, 700)), (gstr("a.i16") + struct.pack("<Ih", 3, -700)),
        (gstr("a.u32") + struct.pack("<II", 4, 70000)), (gstr("a.i32") + struct.pack("<Ii", 5, -70000)),
        (gstr("a.f32") + struct.pack("<If", 6, 1.5)), (gstr("a.bool") + struct.pack("<IB", 7, 1)),
        (gstr("a.u64") + struct.pack("<IQ", 10, 1 << 40)), (gstr("a.i64") + struct.pack("<Iq", 11, -(1 << 40))),
        (gstr("a.f64") + struct.pack("<Id", 12, 2.5)),
        (gstr("a.strs") + struct.pack("<IIQ", 9, 8, 3) + gstr("x") + gstr("") + gstr("\u2581y")),
        (gstr("a.nested") + struct.pack("<IIQ", 9, 9, 1) + struct.pack("<IQ", 4, 2) + struct.pack("<II", 1, 2)),
        (gstr("general.alignment") + struct.pack("<II", 4, 32)),
    ]
    tensor = gstr("t") + struct.pack("<I", 2) + struct.pack("<QQ", 4, 2) + struct.pack("<IQ", 0, 0)
    head = b"GGUF" + struct.pack("<IQQ", 3, 1, len(kvs)) + b"".join(kvs) + tensor
    head += bytes(-len(head) % 32)
    return head + struct.pack("<8f", *range(8))


def gguf_seeds():
    write("gguf", "tiny_llama", read("tests", "data", "gguf", "tiny_llama.gguf"))
    write("gguf", "all_value_types", gguf_all_types())


# ---- safetensors ----

def safetensors(tensors, metadata=None):
    header, data = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def safetensors_seeds():
    write("safetensors", "llama_bf16_shard2", read("tests", "data", "hf", "llama_bf16_sharded",
                                                   "model-00002-of-00003.safetensors"))
    write("safetensors", "dtypes", safetensors({
        "f32": ("F32", [2, 2], struct.pack("<4f", 1, -2, 3.5, 0)),
        "f16": ("F16", [3], struct.pack("<3H", 0x3C00, 0x7C00, 0x0001)),
        "bf16": ("BF16", [1, 2], struct.pack("<2H", 0x3F80, 0xFF80)),
        "i8": ("I8", [2], b"\x01\xff"),
        "scalar": ("F32", [], struct.pack("<f", 42)),
        "empty": ("F32", [0, 4], b""),
    }, {"format": "pt"}))


# ---- Hugging Face directory: config, weights, tokenizer, tokenizer config, generation config ----

def hf_seeds():
    d = ("tests", "data", "hf", "llama_f32")
    parts = [read(*d, "config.json"), read(*d, "model.safetensors"), read(*d, "tokenizer.json"),
             read(*d, "tokenizer_config.json"), read(*d, "generation_config.json")]
    write("hf", "llama_f32", SEP.join(parts))
    write("hf", "llama_f32_no_tokenizer", SEP.join(parts[:2]))


# ---- tokenizers: a selector byte then text ----

TEXTS = {
    "english": b"Once upon a time, there was a little girl named Lily. She liked to play outside!",
    "unicode": "caf\u00e9 na\u00efve \u65e5\u672c\u8a9e \U0001F600 \u2581spaces\u2581 \u00a0\u3000".encode(),
    "special": b"<|im_start|>user\nHi<|im_end|>\n<s>[INST] x [/INST]</s><unk><|endoftext|>",
    "digits_ws": b"1234567 89 0.5e10   \t\n\n  x  \r\n'll 've 're HELLO's",
    "invalid_utf8": b"\xff\xfe\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\xbc\xed\xa0\x80 ok \xc0\xaf",
}


def tokenizer_seeds():
    for i, (name, text) in enumerate(TEXTS.items()):
        for tok in range(6):
            sel = tok | (0x40 if i % 2 else 0) | (0x80 if name == "special" else 0)
            write("tokenizer", "%s_%d" % (name, tok), bytes([sel]) + text)
    write("tokenizer", "ids", bytes([3]) + struct.pack("<8i", 0, 1, 2, 300, 49151, -1, 2**31 - 1, 512))


def tokenizer_file_seeds():
    write("tokenizer_file", "tok512_bin_vocab512", bytes([0x80]) + read("models", "stories260K", "tok512.bin"))
    write("tokenizer_file", "tok512_bin_all", bytes([0]) + read("models", "stories260K", "tok512.bin"))
    for name in ("tok512_hf_first.json", "tok512_hf_legacy.json"):
        write("tokenizer_file", name, bytes([1]) + read("tests", "data", "tokenizer", name))
    write("tokenizer_file", "llama_f32_bpe.json", bytes([1]) + read("tests", "data", "hf", "llama_f32",
                                                                    "tokenizer.json"))


# ---- chat templates: flag byte, template, then role/content pairs ----

def chat_seeds():
    convo = [b"system", b"Be brief.", b"user", b"Hi there", b"assistant", b"Hello!", b"user", b"Bye"]
    templates = {
        "chatml": json.loads(read("tests", "data", "hf", "llama_f32", "tokenizer_config.json"))["chat_template"],
        "chatml_default_system": "{% if messages[0]['role'] != 'system' %}<|im_start|>system\nYou are a helpful "
                                 "AI assistant named SmolLM<|im_end|>\n{% endif %}<|im_start|>",
        "llama3": "{{ bos_token }}<|start_header_id|>{{ role }}<|end_header_id|>\n\n",
        "llama2": "{{ bos_token }}[INST] {{ content }} [/INST]",
        "zephyr": "<|user|>\n{{ content }}</s>",
        "unknown": "{{ messages }}",
    }
    for name, tpl in templates.items():
        write("chat", name, SEP.join([b"\x01" + tpl.encode()] + convo))
    write("chat", "llama2_no_system", SEP.join([b"\x00[INST]"] + convo[2:]))


if __name__ == "__main__":
    bstk_seeds()
    llama2c_seeds()
    gguf_seeds()
    safetensors_seeds()
    hf_seeds()
    tokenizer_seeds()
    tokenizer_file_seeds()
    chat_seeds()
