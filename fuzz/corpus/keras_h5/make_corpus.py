# Regenerates the Keras h5 seed / malformed corpus (h5py; run with
# tools/fixtures/.venv/bin/python from this directory). tests/keras_h5_test.cc
# reads these files; the fuzzer starts from them.
import h5py
import numpy as np
import struct

S = h5py.string_dtype("ascii")


def keras_file(path, layers):
    """layers: {layer: {weight_name: array}} written like keras save_weights."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [l.encode() for l in layers]
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.15.0"
        for l, ws in layers.items():
            g = f.create_group(l)
            g.attrs["weight_names"] = [w.encode() for w in ws]
            for w, a in ws.items():
                g.create_dataset(w, data=a)


w = np.arange(6, dtype="<f4").reshape(2, 3)
keras_file("valid.h5", {"bert": {"tf_m/bert/dense/kernel:0": w, "tf_m/bert/dense/bias:0": np.ones(3, "<f4")}})

# Big-endian and float16 data, a gzip-chunked dataset, int64, a scalar, and
# both name lists in keras' chunked-attribute form (fixed-length strings).
with h5py.File("bigendian_chunked.h5", "w") as f:
    f.attrs["layer_names0"] = np.array([b"a"], dtype="S1")
    f.attrs["layer_names1"] = np.array([b"b"], dtype="S1")
    g = f.create_group("a")
    names = [b"m/a/be:0", b"m/a/half:0", b"m/a/gz:0"]
    g.attrs["weight_names0"] = np.array(names[:2], dtype="S10")
    g.attrs["weight_names1"] = np.array(names[2:], dtype="S10")
    g.create_dataset("m/a/be:0", data=np.arange(6, dtype=">f4").reshape(2, 3))
    g.create_dataset("m/a/half:0", data=np.array([0.5, -2, 65504], dtype="<f2"))
    g.create_dataset("m/a/gz:0", data=np.arange(100, dtype="<f4").reshape(10, 10), chunks=(3, 4), compression="gzip", shuffle=True)
    h = f.create_group("b")
    h.attrs["weight_names"] = [b"m/b/i:0", b"m/b/s:0"]
    h.create_dataset("m/b/i:0", data=np.array([1, -2, 3], dtype=">i8"))
    h.create_dataset("m/b/s:0", data=np.float32(7))

# A 512-byte user block before the superblock: file addresses (heap IDs included) are relative to it.
with h5py.File("userblock.h5", "w", userblock_size=512) as f:
    f.attrs["layer_names"] = [b"l"]
    g = f.create_group("l")
    g.attrs["weight_names"] = [b"m/w:0"]
    g.create_dataset("m/w:0", data=w)

# transformers TF shard layout: root layer_names are dataset paths.
with h5py.File("shard.h5", "w") as f:
    f.attrs["layer_names"] = [b"bert/dense/kernel:0"]
    f.create_dataset("bert/dense/kernel:0", data=w)

with h5py.File("no_layer_names.h5", "w") as f:
    f.create_group("bert").create_dataset("w:0", data=w)

with h5py.File("no_weight_names.h5", "w") as f:
    f.attrs["layer_names"] = [b"bert"]
    f.create_group("bert").create_dataset("w:0", data=w)

with h5py.File("missing_dataset.h5", "w") as f:
    f.attrs["layer_names"] = [b"l"]
    g = f.create_group("l")
    g.attrs["weight_names"] = [b"m/l/w:0", b"m/l/missing:0"]
    g.create_dataset("m/l/w:0", data=w)

with h5py.File("external_link.h5", "w") as f:
    f.attrs["layer_names"] = [b"l"]
    g = f.create_group("l")
    g.attrs["weight_names"] = [b"m/w:0"]
    g["m"] = h5py.ExternalLink("valid.h5", "/bert/tf_m/bert/dense")

with h5py.File("soft_link.h5", "w") as f:
    f.attrs["layer_names"] = [b"l"]
    g = f.create_group("l")
    g.attrs["weight_names"] = [b"m/w:0"]
    g.create_dataset("real/w:0", data=w)
    g["m"] = h5py.SoftLink("/l/real")

with h5py.File("external_storage.h5", "w") as f:
    f.attrs["layer_names"] = [b"l"]
    g = f.create_group("l")
    g.attrs["weight_names"] = [b"m/w:0"]
    g.create_dataset("m/w:0", shape=(4,), dtype="<f4", external=[("raw.bin", 0, 16)])

with h5py.File("string_dataset.h5", "w") as f:
    f.attrs["layer_names"] = [b"l"]
    g = f.create_group("l")
    g.attrs["weight_names"] = [b"m/w:0"]
    g.create_dataset("m/w:0", data=np.array([b"abc", b"de"], dtype="S3"))

with h5py.File("compound_dataset.h5", "w") as f:
    f.attrs["layer_names"] = [b"l"]
    g = f.create_group("l")
    g.attrs["weight_names"] = [b"m/w:0"]
    g.create_dataset("m/w:0", data=np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))

# Claims 2^40 floats but no chunk was ever written (an allocation bomb).
with h5py.File("unwritten_huge.h5", "w") as f:
    f.attrs["layer_names"] = [b"l"]
    g = f.create_group("l")
    g.attrs["weight_names"] = [b"m/w:0"]
    g.create_dataset("m/w:0", shape=(1 << 40,), dtype="<f4", chunks=(1 << 16,))

# A filter that is not built into libhdf5 (would need a plugin).
with h5py.File("plugin_filter.h5", "w") as f:
    f.attrs["layer_names"] = [b"l"]
    g = f.create_group("l")
    g.attrs["weight_names"] = [b"m/w:0"]
    d = g.create_dataset("m/w:0", shape=(4,), dtype="<f4", chunks=(4,), compression=32001, allow_unknown_filter=True)
    d.id.write_direct_chunk((0,), b"\0" * 16)

# weight_names attribute that is not strings.
with h5py.File("numeric_names.h5", "w") as f:
    f.attrs["layer_names"] = [b"l"]
    g = f.create_group("l")
    g.attrs["weight_names"] = np.arange(3)

# A weight name that escapes its layer group through an absolute path.
with h5py.File("absolute_name.h5", "w") as f:
    f.attrs["layer_names"] = [b"l"]
    g = f.create_group("l")
    g.attrs["weight_names"] = [b"/l/w:0"]
    g.create_dataset("w:0", data=w)

# Global heap collections libhdf5 1.10.8 would mis-parse (src/io/keras_h5.cc check_global_heaps): valid.h5 with
# the collection's free-space object (index 0) set to size 0 (libhdf5 loops forever), and with object 1's size
# set past the collection's end (H5HG_read would copy past the collection buffer).
def _patch_gheap(src, dst, free_zero):
    b = bytearray(open(src, "rb").read())
    g = b.find(b"GCOL")
    end = g + int.from_bytes(b[g + 8:g + 16], "little")
    p = g + 16
    while p < end:
        idx = int.from_bytes(b[p:p + 2], "little")
        size = int.from_bytes(b[p + 8:p + 16], "little")
        if free_zero and idx == 0:
            b[p + 8:p + 16] = (0).to_bytes(8, "little")
            break
        if not free_zero and idx == 1:
            b[p + 8:p + 16] = (1 << 20).to_bytes(8, "little")
            break
        p += 16 + ((size + 7) & ~7) if idx > 0 else size
    open(dst, "wb").write(bytes(b))

_patch_gheap("valid.h5", "gheap_free_zero.h5", True)
_patch_gheap("valid.h5", "gheap_oversized.h5", False)

# Heap IDs libhdf5 1.10.8 would follow without checking (src/io/keras_h5.cc GlobalHeaps): valid.h5 with
# layer_names' heap ID ("bert": length 4, collection address, object 1) patched to name an object index far past
# the collection's table (H5HG_read reads a wild table entry: libhdf5 segfaults), an unused slot (object 1 renumbered 9 in the collection), a place that is not a
# collection, and a length other than the object's size.
def _patch_heap_id(dst, length=4, addr_delta=0, idx=1, renumber=None):
    b = bytearray(open("valid.h5", "rb").read())
    g = b.find(b"GCOL")
    hid = struct.pack("<IQI", 4, g, 1)
    at = b.find(hid)
    assert at > 0 and b.find(hid, at + 1) < 0
    b[at:at + 16] = struct.pack("<IQI", length, g + addr_delta, idx)
    if renumber is not None:
        p = g + 16
        while int.from_bytes(b[p:p + 2], "little") != 1:
            p += 16 + ((int.from_bytes(b[p + 8:p + 16], "little") + 7) & ~7)
        b[p:p + 2] = renumber.to_bytes(2, "little")
    open(dst, "wb").write(bytes(b))

_patch_heap_id("heapid_past_table.h5", idx=1000000)
_patch_heap_id("heapid_unused_slot.h5", renumber=9)
_patch_heap_id("heapid_not_a_collection.h5", addr_delta=16)
_patch_heap_id("heapid_length.h5", length=3)

# The newer object header format (v2 "OHDR", h5py libver="latest") reads; attributes in dense storage (a fractal
# heap, which that format uses past 8 attributes) are refused.
for name, extra in (("latest_format.h5", 0), ("dense_attributes.h5", 12)):
    with h5py.File(name, "w", libver="latest") as f:
        f.attrs["layer_names"] = [b"l"]
        for i in range(extra):
            f.attrs["extra%d" % i] = np.float64(i)
        g = f.create_group("l")
        g.attrs["weight_names"] = [b"m/w:0"]
        g.create_dataset("m/w:0", data=w)

# Attribute messages libhdf5 1.10.8 decodes past their end (src/io/keras_h5.cc check_attributes): shard.h5's root
# layer_names message (v1) with its dataspace size 24 -> 34 (the data then lies past the message: libhdf5 copies it
# from beyond the object header chunk; found by keras_h5_fuzz), and with its name size 12 -> 8 (no NUL: strdup).
def _patch_attr(dst, field, value):
    b = bytearray(open("shard.h5", "rb").read())
    body = b.find(b"layer_names\0") - 8
    assert b[body] == 1 and b[body - 8] == 0x0C
    b[body + field:body + field + 2] = value.to_bytes(2, "little")
    open(dst, "wb").write(bytes(b))

_patch_attr("attr_data_past_message.h5", 6, 34)
_patch_attr("attr_name_unterminated.h5", 2, 8)

# Filtered chunks hfx decodes itself (src/io/keras_h5.cc read_chunked): big-endian float32 through
# shuffle + gzip + fletcher32 with clipped edge chunks, int16 gzip with a chunk never written (reads as the fill
# value), float64 with fletcher32 only; and a filter hfx does not decode (scaleoffset).
with h5py.File("filtered.h5", "w") as f:
    f.attrs["layer_names"] = [b"f"]
    g = f.create_group("f")
    g.attrs["weight_names"] = [b"m/f/sgf:0", b"m/f/part:0", b"m/f/fl:0"]
    g.create_dataset("m/f/sgf:0", data=(np.arange(35, dtype=">f4") * 0.5 - 3).reshape(5, 7), chunks=(2, 3),
                     shuffle=True, compression="gzip", fletcher32=True)
    d = g.create_dataset("m/f/part:0", shape=(6,), dtype="<i2", chunks=(4,), compression="gzip", fillvalue=-7)
    d[0:4] = [1, -2, 3, -4]
    g.create_dataset("m/f/fl:0", data=np.array([1.5, -2.25, 1e300]), chunks=(2,), fletcher32=True)
with h5py.File("scaleoffset_filter.h5", "w") as f:
    f.attrs["layer_names"] = [b"l"]
    g = f.create_group("l")
    g.attrs["weight_names"] = [b"m/w:0"]
    g.create_dataset("m/w:0", data=np.arange(8, dtype="<i4"), chunks=(4,), scaleoffset=0)

# Not made here: keras_h5_fuzz findings kept as they were found (tests/keras_h5_test.cc H5Malformed says what each
# is): chunk_dim_corrupt.h5, short_chunk.h5 (mutated bigendian_chunked.h5), unfiltered_short_chunk.h5 and
# local_heap_free_loop.h5 (mutated filtered.h5), link_info_dense.h5 (a link info message naming a fractal heap; found
# in CI's run of 2026-11-26).
