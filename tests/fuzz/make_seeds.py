#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

    tests/fuzz/make_seeds.py [--viewer build/bin/mytorch-viewer]

Names tell tests/test_fuzz_regress.c what each seed must do: "ok-..." loads, "bad-..." is
rejected. The IDX seeds are made here (a few from data/mnist), the .npy ones are the files numpy
wrote in tests/fixtures/npy plus hand-made variants, and the trace seeds are traces exported by
mytorch-viewer (--example, --op/--case), one walk per file and without indentation so that each
stays a few KB, plus hand-made variants. Only the standard library is used."""

import argparse
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gz(data, level=9):
    # mtime 0, so that the seeds are the same bytes every time
    return gzip.compress(data, compresslevel=level, mtime=0)


# ---- IDX ---------------------------------------------------------------------------------------

def idx(dims, data=None, dtype=0x08):
    n = 1
    for d in dims:
        n *= d
    if data is None:
        data = bytes((i * 7) % 256 for i in range(n))
    return bytes([0, 0, dtype, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data


def mnist_head(prefix, count):
    """The first count records of data/mnist's PREFIX files, as IDX files of their own."""
    imgs = gzip.open(os.path.join(ROOT, "data/mnist", prefix + "-images-idx3-ubyte.gz")).read()
    labs = gzip.open(os.path.join(ROOT, "data/mnist", prefix + "-labels-idx1-ubyte.gz")).read()
    return (idx([count, 28, 28], imgs[16:16 + count * 784]), idx([count], labs[8:8 + count]))


def idx_seeds():
    labels = idx([10], bytes(range(10)))
    images = idx([3, 4, 4])
    write("idx", "ok-labels-10", labels)
    write("idx", "ok-images-3x4x4", images)
    write("idx", "ok-matrix-3x5", idx([3, 5]))
    write("idx", "ok-empty-0x28x28", idx([0, 28, 28]))
    write("idx", "ok-zero-dim-2x0x7", idx([2, 0, 7]))
    img2, lab8 = mnist_head("t10k", 2)[0], mnist_head("t10k", 8)[1]
    write("idx", "ok-t10k-images-2", img2)
    write("idx", "ok-t10k-labels-8.gz", gz(lab8))
    write("idx", "ok-t10k-images-2.gz", gz(img2))
    write("idx", "ok-images-gz-two-members", gz(images[:9]) + gz(images[9:]))
    write("idx", "ok-labels-gz-stored", gz(labels, 0))
    write("idx", "bad-empty", b"")
    write("idx", "bad-short-magic", b"\x00\x00\x08")
    write("idx", "bad-magic", b"\x01" + labels[1:])
    write("idx", "bad-type-int32", idx([3], b"\0" * 12, dtype=0x0c))
    write("idx", "bad-ndim-4", bytes([0, 0, 8, 4]) + struct.pack(">IIII", 1, 1, 1, 1) + b"\0")
    write("idx", "bad-ndim-0", bytes([0, 0, 8, 0]))
    write("idx", "bad-header-cut", labels[:6])
    write("idx", "bad-truncated", images[:-1])
    write("idx", "bad-trailing", images + b"\0")
    write("idx", "bad-dim-2-31", bytes([0, 0, 8, 1]) + struct.pack(">I", 1 << 31))
    write("idx", "bad-huge-promise", idx([0x7fffffff, 0x7fffffff, 0x7fffffff], b"x"))
    g = bytearray(gz(labels))
    g[-8] ^= 1
    write("idx", "bad-gz-crc", bytes(g))
    g = bytearray(gz(labels))
    g[-1] ^= 1
    write("idx", "bad-gz-length", bytes(g))
    write("idx", "bad-gz-truncated", gz(labels)[:-3])
    write("idx", "bad-gz-trailing", gz(labels) + b"junk")
    write("idx", "bad-gz-inner-truncated", gz(images[:-2]))
    write("idx", "bad-gz-header-only", gz(labels)[:10])


def idx_gz_seeds():
    # two control bytes (mode | param << 3, level + 10 * strategy), then the IDX bytes
    labels = idx([10], bytes(range(10)))
    images = idx([3, 4, 4])
    t10k = mnist_head("t10k", 1)[0]
    write("idx_gz", "ok-m0-labels", bytes([0, 9]) + labels)
    write("idx_gz", "ok-m0-t10k-image-rle", bytes([0, 36]) + t10k)
    write("idx_gz", "ok-m0-images-stored", bytes([0, 0]) + images)
    write("idx_gz", "ok-m1-images-split", bytes([1 | 15 << 3, 6]) + images)
    write("idx_gz", "ok-m6-labels-empty-member", bytes([6, 19]) + labels)
    write("idx_gz", "ok-m7-images-header-fields", bytes([7, 42]) + images)
    # d[1] & 0x80: header and pattern only, the data made to the promised length (1.1 MB here)
    big = bytes([0, 0, 8, 3]) + struct.pack(">III", 1400, 28, 28) + bytes(range(0, 256, 3))
    write("idx_gz", "ok-gen-images-1400", bytes([0, 0x80 | 1]) + big)
    write("idx_gz", "ok-gen-labels-1048577-split", bytes([1 | 20 << 3, 0x80 | 6]) +
          bytes([0, 0, 8, 1]) + struct.pack(">I", (1 << 20) + 1) + bytes(range(10)))
    write("idx_gz", "bad-gen-images-cut", bytes([2 | 7 << 3, 0x80 | 3]) + big)
    write("idx_gz", "bad-m0-trailing", bytes([0, 9]) + images + b"\0")
    write("idx_gz", "bad-m0-magic", bytes([0, 9]) + b"\x00\x00\x09\x01" + labels[4:])
    write("idx_gz", "bad-m2-cut", bytes([2 | 3 << 3, 9]) + labels)
    write("idx_gz", "bad-m3-zeros-after", bytes([3, 9]) + labels)
    write("idx_gz", "bad-m4-crc", bytes([4 | 5 << 3, 9]) + images)
    write("idx_gz", "bad-m5-length", bytes([5 | 2 << 3, 9]) + images)


# ---- .npy --------------------------------------------------------------------------------------

def npy(header, data=b"", major=1):
    """A .npy file with the given header dict text, padded as numpy pads it."""
    pre = 10 if major == 1 else 12
    h = header.encode() if isinstance(header, str) else header
    total = pre + len(h) + 1
    h += b" " * ((64 - total % 64) % 64) + b"\n"
    size = struct.pack("<H", len(h)) if major == 1 else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes([major, 0]) + size + h + data


def f8(*values):
    return b"".join(struct.pack("<d", v) for v in values)


def npy_seeds():
    fixtures = os.path.join(ROOT, "tests/fixtures/npy")
    loads = {"a_3x4", "b_2x3x2x2", "empty_0x3", "scalar", "special_4", "v2_2x2", "vec_5"}
    for f in sorted(os.listdir(fixtures)):
        base = f[:-4]
        shutil.copy(os.path.join(fixtures, f),
                    os.path.join(CORPUS, "npy", ("ok-" if base in loads else "bad-") + f))
    v = f8(1.5, -2.0, float("inf"))
    write("npy", "ok-v3-vec-3.npy",
          npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", v, major=3))
    write("npy", "ok-keys-reordered.npy",
          npy('{"shape": (3,), "fortran_order": False, "descr": "<f8"}', v))
    write("npy", "ok-shape-no-comma.npy",
          npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3)}", v))
    write("npy", "ok-shape-long.npy",
          npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1L, 3L), }", v))
    write("npy", "ok-4d-zero.npy",
          npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 0, 2147483647, 1), }"))
    good = npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", v)
    write("npy", "bad-truncated.npy", good[:-1])
    write("npy", "bad-trailing.npy", good + b"\0")
    write("npy", "bad-magic.npy", b"\x93NUMPz" + good[6:])
    write("npy", "bad-version-1.1.npy", good[:7] + b"\x01" + good[8:])
    write("npy", "bad-header-cut.npy", good[:40])
    write("npy", "bad-empty.npy", b"")
    write("npy", "bad-unknown-key.npy",
          npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'x': 1}", v))
    write("npy", "bad-nul-in-descr.npy",
          npy(b"{'descr': '<f8\0', 'fortran_order': False, 'shape': (3,), }", v))
    write("npy", "bad-structured.npy",
          npy("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (3,), }", v))
    write("npy", "bad-shape-negative.npy",
          npy("{'descr': '<f8', 'fortran_order': False, 'shape': (-3,), }", v))
    write("npy", "bad-shape-overflow.npy",
          npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2147483648,), }", v))
    write("npy", "bad-shape-too-large.npy",
          npy("{'descr': '<f8', 'fortran_order': False, "
              "'shape': (2147483647, 2147483647, 2147483647, 2147483647), }", v))
    write("npy", "bad-missing-shape.npy", npy("{'descr': '<f8', 'fortran_order': False}", v))
    write("npy", "bad-v2-huge-header.npy", b"\x93NUMPY\x02\x00" + struct.pack("<I", 1 << 30))


# ---- traces ------------------------------------------------------------------------------------

def compact(t):
    return json.dumps(t, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def one_walk(t, k):
    u = json.loads(json.dumps(t))
    u["walks"] = [t["walks"][k]]
    return u


def trace_seeds(viewer):
    tmp = tempfile.mkdtemp()
    try:
        def export(args, name):
            path = os.path.join(tmp, name + ".json")
            subprocess.run([viewer] + args + ["--export-trace", path], check=True,
                           stdout=subprocess.DEVNULL)
            with open(path) as f:
                return json.load(f)

        seed = export(["--example", "seed"], "seed")
        for k, w in enumerate(seed["walks"]):
            write("trace", "ok-seed-%s.json" % w["traversal"], compact(one_walk(seed, k)))
        write("trace", "ok-diamond-topo.json", compact(one_walk(export(["--example", "diamond"],
                                                                      "diamond"), 2)))
        write("trace", "ok-chain-3-dfs.json", compact(one_walk(export(["--example", "chain:3"],
                                                                     "chain"), 1)))
        cases = [("add", "bcast_3x1_1x4"), ("pow", "neg_1.5_5"), ("reshape", "6_to_3x-1"),
                 ("sum", "axis1_keep_3x4"), ("batch_norm", "5x1_one_feature"),
                 ("cross_entropy", "1x4_one_row"), ("log_softmax", "2x1_one_class"),
                 ("matmul", "1x3_3x1"), ("mean", "scalar_axis-1"), ("div", "tensor_scalar")]
        for i, (op, case) in enumerate(cases):
            t = export(["--op", op, "--case", case], op)
            k = i % len(t["walks"])
            write("trace", "ok-op-%s-%s-%s.json" % (op, case, t["walks"][k]["traversal"]),
                  compact(one_walk(t, k)))

        base = one_walk(seed, 2)                     # the seed example's topological walk
        nowalk = json.loads(json.dumps(seed))
        nowalk["walks"] = []
        write("trace", "ok-no-walks.json", compact(nowalk))
        write("trace", "ok-indented.json", json.dumps(one_walk(export(["--op", "neg", "--case",
                                                                      "scalar"], "neg"), 0),
                                                     indent=1))
        big = json.loads(json.dumps(nowalk))
        big["value_limit"] = 9007199254740992        # 2^53: no limit
        big["title"] = "caf\u00e9 \u00d7 \u2207"
        write("trace", "ok-no-limit-utf8-title.json", compact(big))
        special = compact(nowalk).replace('"data":[1]', '"data":["nan"]', 1)
        write("trace", "ok-nan-value.json", special.replace('"data":[2]', '"data":["-inf"]', 1))

        s = compact(base)
        write("trace", "bad-truncated.json", s[:len(s) // 2])
        write("trace", "bad-empty.json", "")
        write("trace", "bad-not-json.json", "{\"format\": mytorch}")
        write("trace", "bad-trailing.json", s + " {}")
        write("trace", "bad-format.json", s.replace('"mytorch-trace"', '"mytorch-trace2"', 1))
        write("trace", "bad-version.json", s.replace('"version":1', '"version":2', 1))
        u = json.loads(s)
        u["nodes"][0]["colour"] = "red"
        write("trace", "bad-unknown-field.json", compact(u))
        u = json.loads(s)
        u["edges"][0]["from"] = len(u["nodes"])
        write("trace", "bad-edge-from.json", compact(u))
        u = json.loads(s)
        u["nodes"][1]["id"] = 0
        write("trace", "bad-repeated-id.json", compact(u))
        u = json.loads(s)
        ev = u["walks"][0]["events"]
        ev[1], ev[2] = ev[2], ev[1]
        write("trace", "bad-event-order.json", compact(u))
        u = json.loads(s)
        u["walks"][0]["events"].pop()
        write("trace", "bad-no-end.json", compact(u))
        u = json.loads(s)
        u["nodes"][0]["value"]["numel"] = 2
        write("trace", "bad-numel.json", compact(u))
        u = json.loads(s)
        u["nodes"][0]["value"]["data"] = ["nan?"]
        write("trace", "bad-number-string.json", compact(u))
        u = json.loads(s)
        u["walks"][0]["traversal"] = "bfs"
        write("trace", "bad-traversal.json", compact(u))
        u = json.loads(s)
        u["nodes"][-1]["op"] = "conv2d"
        write("trace", "bad-unknown-op.json", compact(u))
        write("trace", "bad-deep-nesting.json", "[" * 5000 + "]" * 5000)
    finally:
        shutil.rmtree(tmp)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--viewer", default=os.path.join(ROOT, "build/bin/mytorch-viewer"))
    a = ap.parse_args()
    if not os.access(a.viewer, os.X_OK):
        sys.exit("make_seeds.py: %s is not there: build it (make) or pass --viewer" % a.viewer)
    for t in ("idx", "idx_gz", "npy", "trace"):
        shutil.rmtree(os.path.join(CORPUS, t), ignore_errors=True)
        os.makedirs(os.path.join(CORPUS, t))
    idx_seeds()
    idx_gz_seeds()
    npy_seeds()
    trace_seeds(a.viewer)


if __name__ == "__main__":
    main()
