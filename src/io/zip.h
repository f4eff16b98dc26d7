// Internal: a minimal zip reader/writer for PyTorch checkpoints (torch.save).
//
// Why hand-written rather than libzip/minizip: torch.save stores every entry
// uncompressed and pads each local header so that the entry's data starts on
// a 64-byte boundary. All hfx needs is the byte range of each stored entry
// inside the memory-mapped file, so that tensors can be zero-copy views of
// it; a general zip library would want to extract (copy) entries and would
// bring inflate code we never use. The reader parses the central directory
// (with its ZIP64 records when present), checks every offset and size against
// the file size before touching the bytes, and refuses compressed or
// encrypted entries when they are used (ZipReader::stored()).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hfx/io.h"

namespace hfx::zip {

uint32_t crc32(const void* data, std::size_t n, uint32_t crc = 0);

struct Entry {
  std::string name;
  uint16_t method = 0;      // 0 = stored
  uint16_t flags = 0;       // general purpose bit flags (bit 0: encrypted)
  uint32_t crc = 0;
  uint64_t compressed_size = 0, size = 0;
  uint64_t header_offset = 0;  // local file header
  uint64_t data_offset = 0;    // first byte of the entry's data in the file
};

class ZipReader {
 public:
  // Parses and validates the archive; throws hfx::Error{Format} naming the file.
  explicit ZipReader(std::shared_ptr<MappedFile> file);
  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(const std::string& name) const;
  // The entry's bytes, in place. Throws Unsupported for compressed or
  // encrypted entries (naming the entry), NotFound when missing.
  std::string_view stored(const std::string& name) const;
  const std::shared_ptr<MappedFile>& file() const { return file_; }

 private:
  std::shared_ptr<MappedFile> file_;
  std::vector<Entry> entries_;
  std::map<std::string, std::size_t> index_;
};

// Writes a zip of stored entries in the layout torch.save uses: each entry's
// data starts on a 64-byte boundary (padding in a local extra field "FB"),
// CRC-32 and sizes in the local header, ZIP64 fields and end records only
// when an offset or size needs them (or when force_zip64, for tests).
class ZipWriter {
 public:
  explicit ZipWriter(AtomicFile& out, bool force_zip64 = false) : out_(out), force64_(force_zip64) {}
  // Adds one entry whose data is the concatenation of `parts` (CRC is computed here).
  void add(const std::string& name, const std::vector<std::string_view>& parts);
  void add(const std::string& name, std::string_view data) { add(name, std::vector<std::string_view>{data}); }
  // Writes the central directory and end records (does not commit the file).
  void finish();
  uint64_t offset() const { return pos_; }

 private:
  void put(const void* p, std::size_t n);
  AtomicFile& out_;
  bool force64_;
  uint64_t pos_ = 0;
  std::vector<Entry> written_;
};

}  // namespace hfx::zip
