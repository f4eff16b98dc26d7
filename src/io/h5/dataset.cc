// Datasets of a Keras HDF5 file: every property checked before a read (inspect), and chunked
// datasets decoded here rather than by H5Dread (read_chunked; the comment below says why).
#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "io/h5/common.h"

namespace hfx::h5 {

DsInfo inspect(hid_t ds, uint64_t file_size, const std::string& file, const std::string& tensor) {
  // The type first: for a variable-length type H5Dget_create_plist would convert
  // the fill value through the global heap (unchecked heap IDs, see RawChecks).
  H type(H5Dget_type(ds), H5Tclose);
  if (!type.ok()) throw_error(ErrorKind::Format, "cannot read the dataset's type" + h5_err(), file, tensor);
  const H5T_class_t cls = H5Tget_class(type.get());
  const std::size_t tsize = H5Tget_size(type.get());
  DsInfo out{DType::F32, {}, {}, {}, {}, {}, {}, std::nullopt};
  if (cls == H5T_FLOAT) {
    if (tsize == 4) {
      out.dtype = DType::F32;
      out.memtype = H(H5Tcopy(H5T_NATIVE_FLOAT), H5Tclose);
    } else if (tsize == 8) {
      out.dtype = DType::F64;
      out.memtype = H(H5Tcopy(H5T_NATIVE_DOUBLE), H5Tclose);
    } else if (tsize == 2) {
      // numpy float16 as h5py writes it: IEEE binary16.
      std::size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
      H5Tget_fields(type.get(), &spos, &epos, &esize, &mpos, &msize);
      if (spos != 15 || epos != 10 || esize != 5 || mpos != 0 || msize != 10 || H5Tget_ebias(type.get()) != 15)
        throw_error(ErrorKind::Unsupported, "16-bit float dataset is not IEEE float16 (bfloat16 or custom layout)", file, tensor);
      out.dtype = DType::F16;
      out.memtype = H(H5Tcopy(type.get()), H5Tclose);
      H5Tset_order(out.memtype.get(), H5T_ORDER_LE);
    } else {
      throw_error(ErrorKind::Unsupported, std::to_string(tsize * 8) + "-bit float dataset", file, tensor);
    }
  } else if (cls == H5T_INTEGER) {
    const bool sgn = H5Tget_sign(type.get()) == H5T_SGN_2;
    hid_t native = -1;
    switch (tsize) {
      case 1: out.dtype = sgn ? DType::I8 : DType::U8; native = sgn ? H5T_NATIVE_INT8 : H5T_NATIVE_UINT8; break;
      case 2: out.dtype = sgn ? DType::I16 : DType::U16; native = sgn ? H5T_NATIVE_INT16 : H5T_NATIVE_UINT16; break;
      case 4: out.dtype = sgn ? DType::I32 : DType::U32; native = sgn ? H5T_NATIVE_INT32 : H5T_NATIVE_UINT32; break;
      case 8: out.dtype = sgn ? DType::I64 : DType::U64; native = sgn ? H5T_NATIVE_INT64 : H5T_NATIVE_UINT64; break;
      default: throw_error(ErrorKind::Unsupported, std::to_string(tsize * 8) + "-bit integer dataset", file, tensor);
    }
    out.memtype = H(H5Tcopy(native), H5Tclose);
  } else {
    const char* what = cls == H5T_STRING ? "string" : cls == H5T_COMPOUND ? "compound" : cls == H5T_ENUM ? "enum (e.g. bool)"
                     : cls == H5T_ARRAY ? "array" : cls == H5T_VLEN ? "variable-length" : cls == H5T_REFERENCE ? "reference"
                     : cls == H5T_OPAQUE ? "opaque" : cls == H5T_BITFIELD ? "bitfield" : "unknown";
    throw_error(ErrorKind::Format, std::string("dataset has HDF5 type class ") + what +
                                       "; weights must be float16/32/64 or integers", file, tensor);
  }
  if (!out.memtype.ok()) throw_error(ErrorKind::Format, "cannot set up the memory type" + h5_err(), file, tensor);
  H dcpl(H5Dget_create_plist(ds), H5Pclose);
  if (!dcpl.ok()) throw_error(ErrorKind::Format, "cannot read dataset properties" + h5_err(), file, tensor);
  const int next = H5Pget_external_count(dcpl.get());
  if (next != 0) throw_error(ErrorKind::Security, "dataset keeps its data in external files; refused", file, tensor);
  const H5D_layout_t layout = H5Pget_layout(dcpl.get());
  if (layout == H5D_VIRTUAL) throw_error(ErrorKind::Security, "virtual dataset (maps other files); refused", file, tensor);
  if (layout != H5D_COMPACT && layout != H5D_CONTIGUOUS && layout != H5D_CHUNKED)
    throw_error(ErrorKind::Format, "dataset has an unknown storage layout" + h5_err(), file, tensor);
  const int nfilters = H5Pget_nfilters(dcpl.get());
  if (nfilters < 0) throw_error(ErrorKind::Format, "cannot read the dataset's filters" + h5_err(), file, tensor);
  if (nfilters > 0 && layout != H5D_CHUNKED) throw_error(ErrorKind::Format, "filters on a dataset that is not chunked", file, tensor);
  int ndeflate = 0;
  for (int i = 0; i < nfilters; ++i) {
    unsigned flags = 0, fconf = 0, cd[8] = {0};
    std::size_t nelem = 8;
    char fname[64] = {0};
    H5Z_filter_t id = H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &nelem, cd, sizeof fname, fname, &fconf);
    const bool builtin = id == H5Z_FILTER_DEFLATE || id == H5Z_FILTER_SHUFFLE || id == H5Z_FILTER_FLETCHER32 ||
                         id == H5Z_FILTER_SZIP || id == H5Z_FILTER_NBIT || id == H5Z_FILTER_SCALEOFFSET;
    if (!builtin || H5Zfilter_avail(id) <= 0)
      throw_error(ErrorKind::Unsupported, "dataset uses HDF5 filter " + std::to_string(id) +
                                              " which is not a built-in filter available here (plugins are never loaded)", file, tensor);
    // hfx decodes the pipeline itself (read_chunked): only these three.
    if (id != H5Z_FILTER_DEFLATE && id != H5Z_FILTER_SHUFFLE && id != H5Z_FILTER_FLETCHER32)
      throw_error(ErrorKind::Unsupported, std::string("dataset uses HDF5 filter ") +
                                              (id == H5Z_FILTER_SZIP ? "szip" : id == H5Z_FILTER_NBIT ? "nbit" : "scaleoffset") + " (id " +
                                              std::to_string(id) + "); hfx decodes only deflate, shuffle and fletcher32", file, tensor);
    if (id == H5Z_FILTER_DEFLATE && ++ndeflate > 1)
      throw_error(ErrorKind::Unsupported, "dataset applies deflate twice", file, tensor);
    out.filters.push_back({id, nelem > 0 ? cd[0] : 0u});
  }
  if (layout == H5D_CHUNKED) {
    out.filetype = H(H5Tcopy(type.get()), H5Tclose);
    if (!out.filetype.ok()) throw_error(ErrorKind::Format, "cannot copy the dataset's type" + h5_err(), file, tensor);
    // What libhdf5 reads for a chunk never written: the user's fill value, else zeros.
    H5D_fill_value_t fv = H5D_FILL_VALUE_UNDEFINED;
    if (H5Pfill_value_defined(dcpl.get(), &fv) < 0) throw_error(ErrorKind::Format, "cannot read the fill value" + h5_err(), file, tensor);
    if (fv == H5D_FILL_VALUE_USER_DEFINED) {
      out.fill.assign(tsize, 0);
      if (H5Pget_fill_value(dcpl.get(), out.filetype.get(), out.fill.data()) < 0)
        throw_error(ErrorKind::Format, "cannot read the fill value" + h5_err(), file, tensor);
      if (std::all_of(out.fill.begin(), out.fill.end(), [](uint8_t b) { return b == 0; })) out.fill.clear();
    }
  }


  H space(H5Dget_space(ds), H5Sclose);
  if (!space.ok()) throw_error(ErrorKind::Format, "cannot read the dataset's shape" + h5_err(), file, tensor);
  switch (H5Sget_simple_extent_type(space.get())) {
    case H5S_SCALAR: break;
    case H5S_SIMPLE: {
      int rank = H5Sget_simple_extent_ndims(space.get());
      if (rank < 0 || rank > kMaxRank) throw_error(ErrorKind::Format, "bad dataset rank", file, tensor);
      std::vector<hsize_t> dims(static_cast<std::size_t>(rank)), maxdims(static_cast<std::size_t>(rank));
      if (rank > 0 && H5Sget_simple_extent_dims(space.get(), dims.data(), maxdims.data()) < 0)
        throw_error(ErrorKind::Format, "cannot read the dataset's dims" + h5_err(), file, tensor);
      for (hsize_t d : dims) {
        if (d > (hsize_t{1} << 62)) throw_error(ErrorKind::Format, "dimension too large", file, tensor);
        out.shape.push_back(static_cast<int64_t>(d));
      }
      if (layout == H5D_CHUNKED) {
        // libhdf5 1.10.8 reads a whole chunk's bytes (chunk dims x type size)
        // out of whatever a chunk decompresses to: a chunk larger than the
        // dataset could ever be is a corrupt chunk size (libhdf5 itself
        // refuses to create one), read past the decompressed buffer.
        std::vector<hsize_t> chunk(static_cast<std::size_t>(rank));
        if (H5Pget_chunk(dcpl.get(), rank, chunk.data()) != rank)
          throw_error(ErrorKind::Format, "cannot read the dataset's chunk dims" + h5_err(), file, tensor);
        for (int i = 0; i < rank; ++i)
          if (chunk[i] == 0 || (maxdims[i] != H5S_UNLIMITED && chunk[i] > maxdims[i]))
            throw_error(ErrorKind::Format, "chunk dim " + std::to_string(chunk[i]) + " does not fit the dataset's dim " +
                                               std::to_string(maxdims[i]) + " (corrupt chunk size)", file, tensor);
        uint64_t chunk_bytes = tsize;
        for (int i = 0; i < rank; ++i) {
          if (chunk[i] > (uint64_t{1} << 32) || chunk_bytes * chunk[i] > (uint64_t{1} << 32))  // libhdf5: chunks < 4 GiB
            throw_error(ErrorKind::Format, "chunk of more than 4 GiB (corrupt chunk size)", file, tensor);
          chunk_bytes *= chunk[i];
        }
        out.chunk = chunk;
      }
      break;
    }
    default: throw_error(ErrorKind::Format, "dataset has no data (null dataspace)", file, tensor);
  }
  if (layout == H5D_CHUNKED && out.chunk.empty()) throw_error(ErrorKind::Format, "chunked dataset without chunk dims", file, tensor);
  int64_t numel;
  try {
    numel = shape_numel(out.shape);
  } catch (const Error& e) {
    throw_error(ErrorKind::Format, e.message(), file, tensor);
  }
  const uint64_t es = dtype_size(out.dtype);
  if (static_cast<uint64_t>(numel) > (uint64_t{1} << 62) / es)
    throw_error(ErrorKind::Format, "dtype x shape " + shape_str(out.shape) + " overflows", file, tensor);
  const uint64_t nbytes = static_cast<uint64_t>(numel) * es;
  if (nbytes > 0) {
    const uint64_t stored = H5Dget_storage_size(ds);
    if (stored > file_size)
      throw_error(ErrorKind::Format, "dataset claims " + std::to_string(stored) + " bytes of storage in a " +
                                         std::to_string(file_size) + "-byte file", file, tensor);
    if (stored == 0) throw_error(ErrorKind::Format, "dataset " + shape_str(out.shape) + " has no data written", file, tensor);
    // Without filters the stored bytes hold every element (chunked storage may
    // round up to whole chunks); with filters, deflate's best ratio is ~1032:1.
    const bool ok = nfilters == 0 ? (layout == H5D_CHUNKED ? stored >= nbytes : stored == nbytes)
                                  : nbytes / 1100 <= stored;
    if (!ok)
      throw_error(ErrorKind::Format, "dtype " + std::string(to_string(out.dtype)) + " x shape " + shape_str(out.shape) + " (" +
                                         std::to_string(nbytes) + " bytes) does not fit the " + std::to_string(stored) +
                                         " bytes stored", file, tensor);
    // Keras and h5py write contiguous little-endian datasets: those bytes are
    // exactly what H5Dread would copy out, so they are read in place.
    if (layout == H5D_CONTIGUOUS && H5Tequal(type.get(), out.memtype.get()) > 0) {
      const haddr_t at = H5Dget_offset(ds);  // absolute (user block included)
      if (at == HADDR_UNDEF || at > file_size || nbytes > file_size - at)
        throw_error(ErrorKind::Format, "dataset data (" + std::to_string(nbytes) + " bytes at offset " +
                                           (at == HADDR_UNDEF ? std::string("undefined") : std::to_string(at)) +
                                           ") does not lie within the " + std::to_string(file_size) + "-byte file", file, tensor);
      out.offset = at;
    }
  }
  return out;
}

// ---- chunked datasets -------------------------------------------------------
//
// Chunked datasets are read here, not by H5Dread: libhdf5 1.10.8 does not
// compare what a chunk holds - after its filter pipeline, or as stored when
// there is none - with the chunk's size, and copies a whole chunk out of a
// shorter buffer (a heap over-read in H5Dread -> H5D__select_read ->
// H5VM_memcpyvv; reproducers fuzz/corpus/keras_h5/short_chunk.h5, a deflate
// chunk that decodes short, and unfiltered_short_chunk.h5, compressed chunks
// whose filter message is gone; both found by keras_h5_fuzz). So each chunk
// is read raw (H5Dread_chunk copies only the stored bytes) and its pipeline -
// deflate, shuffle, fletcher32; inspect() refuses any other - is undone with
// every size checked, as H5Z_filter_deflate / _shuffle / _fletcher32 would.
// Contiguous and compact datasets still go through H5Dread.

// H5_checksum_fletcher32 (libhdf5 H5checksum.c): 16-bit big-endian words.
uint32_t fletcher32(const uint8_t* data, std::size_t n) {
  uint32_t sum1 = 0, sum2 = 0;
  std::size_t len = n / 2;
  while (len) {
    std::size_t tlen = len > 360 ? 360 : len;
    len -= tlen;
    do {
      sum1 += static_cast<uint32_t>(data[0]) << 8 | data[1];
      data += 2;
      sum2 += sum1;
    } while (--tlen);
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  }
  if (n % 2) {
    sum1 += static_cast<uint32_t>(*data) << 8;
    sum2 += sum1;
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  }
  sum1 = (sum1 & 0xffff) + (sum1 >> 16);
  sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  return sum2 << 16 | sum1;
}

// Undoes the pipeline of one chunk (`mask` bit i set: filter i was skipped)
// into exactly `chunk_bytes` bytes; `where` names the chunk in errors.
std::vector<uint8_t> decode_chunk(std::vector<uint8_t> buf, uint32_t mask, const std::vector<Filter>& filters, std::size_t es,
                                  uint64_t chunk_bytes, const std::string& where, const std::string& file, const std::string& tensor) {
  auto bad = [&](const std::string& what) { throw_error(ErrorKind::Format, where + ": " + what, file, tensor); };
  for (std::size_t k = filters.size(); k-- > 0;) {
    if (k < 32 && (mask >> k & 1u)) continue;
    const Filter& f = filters[k];
    if (f.id == H5Z_FILTER_FLETCHER32) {
      if (buf.size() < 4) bad("too short for its fletcher32 checksum");
      const std::size_t n = buf.size() - 4;
      const uint32_t stored = static_cast<uint32_t>(buf[n]) | static_cast<uint32_t>(buf[n + 1]) << 8 |
                              static_cast<uint32_t>(buf[n + 2]) << 16 | static_cast<uint32_t>(buf[n + 3]) << 24;
      const uint32_t sum = fletcher32(buf.data(), n);
      // libhdf5 before 1.6.3 stored it with the bytes of each half swapped; H5Z accepts both.
      const uint32_t swapped = (sum & 0x00ff00ffu) << 8 | (sum & 0xff00ff00u) >> 8;
      if (stored != sum && stored != swapped) bad("fletcher32 checksum mismatch (corrupt data)");
      buf.resize(n);
    } else if (f.id == H5Z_FILTER_SHUFFLE) {
      if (f.cd0 != es) bad("shuffle filter for " + std::to_string(f.cd0) + "-byte elements on " + std::to_string(es) + "-byte data");
      const std::size_t n = buf.size() / es;
      if (es > 1 && n > 1) {
        std::vector<uint8_t> out(buf.size());
        for (std::size_t j = 0; j < es; ++j)
          for (std::size_t i = 0; i < n; ++i) out[i * es + j] = buf[j * n + i];
        std::copy(buf.begin() + static_cast<std::ptrdiff_t>(n * es), buf.end(), out.begin() + static_cast<std::ptrdiff_t>(n * es));
        buf.swap(out);
      }
    } else {  // deflate: to exactly what the filters before it made of chunk_bytes
      uint64_t want = chunk_bytes;
      for (std::size_t j = 0; j < k; ++j)
        if (!(j < 32 && (mask >> j & 1u)) && filters[j].id == H5Z_FILTER_FLETCHER32) want += 4;
      if (buf.size() > UINT32_MAX) bad("chunk too large");
      std::vector<uint8_t> out(want);
      z_stream zs{};
      if (inflateInit(&zs) != Z_OK) bad("cannot start zlib");
      zs.next_in = buf.data();
      zs.avail_in = static_cast<uInt>(buf.size());
      zs.next_out = out.data();
      zs.avail_out = static_cast<uInt>(want);
      const int r = inflate(&zs, Z_FINISH);
      const std::string msg = zs.msg ? zs.msg : "";
      const uint64_t got = zs.total_out;
      const uInt left = zs.avail_in;
      inflateEnd(&zs);
      if (r == Z_STREAM_END && left != 0) bad("deflate data followed by " + std::to_string(left) + " stray bytes");
      if (r == Z_STREAM_END && got != want)
        bad("decompresses to " + std::to_string(got) + " bytes, not the chunk's " + std::to_string(want));
      if (r == Z_BUF_ERROR && got == want) bad("decompresses to more than the chunk's " + std::to_string(want) + " bytes");
      if (r != Z_STREAM_END) bad("corrupt deflate data" + (msg.empty() ? std::string() : " (zlib: " + msg + ")"));
      buf.swap(out);
    }
  }
  if (buf.size() != chunk_bytes)
    bad("holds " + std::to_string(buf.size()) + " bytes after its filters, not the chunk's " + std::to_string(chunk_bytes));
  return buf;
}

// Reads chunked dataset `ds` (checked by inspect) into `dst`
// (shape's elements, memtype). Called with the mutex held.
void read_chunked(hid_t ds, const DsInfo& di, uint8_t* dst, uint64_t file_size, const std::string& file, const std::string& tensor) {
  const std::size_t rank = di.chunk.size(), es = dtype_size(di.dtype);
  if (rank == 0 || rank != di.shape.size()) throw_error(ErrorKind::Format, "chunk rank does not match the dataset's", file, tensor);
  const uint64_t numel = static_cast<uint64_t>(shape_numel(di.shape));
  uint64_t chunk_bytes = es;
  for (hsize_t c : di.chunk) chunk_bytes *= c;  // < 4 GiB: inspect()
  if (!di.fill.empty())
    for (uint64_t i = 0; i < numel; ++i) std::memcpy(dst + i * es, di.fill.data(), es);
  const bool deflate = std::any_of(di.filters.begin(), di.filters.end(), [](const Filter& f) { return f.id == H5Z_FILTER_DEFLATE; });
  std::vector<hsize_t> grid(rank), idx(rank, 0), off(rank);
  for (std::size_t d = 0; d < rank; ++d) grid[d] = (static_cast<hsize_t>(di.shape[d]) + di.chunk[d] - 1) / di.chunk[d];
  while (true) {
    std::string where = "chunk at (";
    for (std::size_t d = 0; d < rank; ++d) {
      off[d] = idx[d] * di.chunk[d];
      where += (d ? "," : "") + std::to_string(off[d]);
    }
    where += ")";
    hsize_t stored = 0;
    haddr_t addr = HADDR_UNDEF;
    unsigned fmask = 0;
    if (H5Dget_chunk_info_by_coord(ds, off.data(), &fmask, &addr, &stored) < 0)
      throw_error(ErrorKind::Format, where + ": cannot look it up" + h5_err(), file, tensor);
    if (addr != HADDR_UNDEF) {  // else never written: reads as the fill value (already there)
      if (stored > file_size || addr > file_size - stored)
        throw_error(ErrorKind::Format, where + ": " + std::to_string(stored) + " bytes at offset " + std::to_string(addr) +
                                           " do not fit the " + std::to_string(file_size) + "-byte file", file, tensor);
      // deflate's best ratio is ~1032:1; without it the filters add bytes, never remove them.
      if (deflate ? chunk_bytes / 1100 > stored : chunk_bytes > stored)
        throw_error(ErrorKind::Format, where + ": " + std::to_string(stored) + " stored bytes cannot hold the chunk's " +
                                           std::to_string(chunk_bytes), file, tensor);
      std::vector<uint8_t> raw(stored);
      uint32_t mask = 0;
      if (H5Dread_chunk(ds, H5P_DEFAULT, off.data(), &mask, raw.data()) < 0)
        throw_error(ErrorKind::Format, where + ": cannot read it" + h5_err(), file, tensor);
      const std::vector<uint8_t> c = decode_chunk(std::move(raw), mask, di.filters, es, chunk_bytes, where, file, tensor);
      // Copy the part inside the dataset (edge chunks are clipped), row by row along the last dim.
      const std::size_t last = rank - 1;
      const uint64_t row = std::min<uint64_t>(di.chunk[last], static_cast<uint64_t>(di.shape[last]) - off[last]) * es;
      std::vector<hsize_t> in(rank, 0);  // position inside the chunk (last dim stays 0)
      while (true) {
        uint64_t src = 0, dsti = 0;
        for (std::size_t d = 0; d < rank; ++d) {
          src = src * di.chunk[d] + in[d];
          dsti = dsti * static_cast<uint64_t>(di.shape[d]) + off[d] + in[d];
        }
        std::memcpy(dst + dsti * es, c.data() + src * es, row);
        std::size_t d = last;
        while (d-- > 0) {
          if (++in[d] < di.chunk[d] && off[d] + in[d] < static_cast<uint64_t>(di.shape[d])) break;
          in[d] = 0;
        }
        if (d == static_cast<std::size_t>(-1)) break;
      }
    }
    std::size_t d = rank;
    while (d-- > 0) {
      if (++idx[d] < grid[d]) break;
      idx[d] = 0;
    }
    if (d == static_cast<std::size_t>(-1)) break;
  }
  if (!H5Tequal(di.filetype.get(), di.memtype.get()) &&
      H5Tconvert(di.filetype.get(), di.memtype.get(), numel, dst, nullptr, H5P_DEFAULT) < 0)
    throw_error(ErrorKind::Format, "cannot convert the data to native byte order" + h5_err(), file, tensor);
}

}  // namespace hfx::h5
