// Owning HDF5 identifiers, the process-wide libhdf5 lock and set-up, and path walking that follows
// only hard links (see common.h for how the Keras HDF5 files are split).
#include <cstring>

#include "io/h5/common.h"

namespace hfx::h5 {

namespace {
// libhdf5 closes what is still open from an atexit handler (H5_term_library). A hostile file whose H5Fclose
// failed leaves its ID open in a broken state, and that handler then crashed the process at exit (SIGSEGV in
// H5F__close_cb: keras_h5_fuzz, at exit after ~100k inputs). hfx closes every file it opens itself (the writer
// checks its close), so it asks libhdf5 not to install the handler. H5dont_atexit must come before any other
// HDF5 call: a static initializer of this file, which every reader and writer links.
[[maybe_unused]] const bool kNoHdf5Atexit = [] {
  H5dont_atexit();
  return true;
}();
}  // namespace

std::mutex& h5_mutex() {
  static std::mutex m;
  return m;
}

namespace {

herr_t raw_heap_id_conv(hid_t src, hid_t dst, H5T_cdata_t* cdata, size_t, size_t, size_t, void*, void*, hid_t) {
  switch (cdata->command) {
    case H5T_CONV_INIT: {
      cdata->need_bkg = H5T_BKG_NO;
      if (H5Tget_class(dst) != H5T_OPAQUE || H5Tis_variable_str(src) <= 0) return -1;
      char* tag = H5Tget_tag(dst);
      const bool ours = tag && std::strcmp(tag, kRawHeapIdTag) == 0;
      H5free_memory(tag);
      return ours ? 0 : -1;
    }
    case H5T_CONV_CONV:  // in place: the file form is the result, when the sizes agree
      return H5Tget_size(src) == H5Tget_size(dst) ? 0 : -1;
    default: return 0;
  }
}

herr_t innermost_cb(unsigned n, const H5E_error2_t* e, void* data) {
  if (n == 0 && e && e->desc) *static_cast<std::string*>(data) = e->desc;
  return 0;
}

}  // namespace

void h5_init() {
  static bool done = false;
  if (done) return;
  H5open();
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  H5PLset_loading_state(0);
  // Variable-length strings -> their heap IDs as stored (RawChecks, guards.cc).
  hid_t str = H5Tcopy(H5T_C_S1), raw = H5Tcreate(H5T_OPAQUE, 16);
  H5Tset_size(str, H5T_VARIABLE);
  H5Tset_tag(raw, kRawHeapIdTag);
  H5Tregister(H5T_PERS_SOFT, "hfx raw heap IDs", str, raw, raw_heap_id_conv);
  H5Tclose(str);
  H5Tclose(raw);
  done = true;
}

std::string h5_err() {
  std::string s;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_cb, &s);
  H5Eclear2(H5E_DEFAULT);
  return s.empty() ? std::string() : " (HDF5: " + s + ")";
}

herr_t close_object(hid_t id) { return H5Oclose(id); }

std::vector<std::string> split_path(const std::string& p) {
  std::vector<std::string> out;
  std::size_t b = 0;
  while (true) {
    std::size_t e = p.find('/', b);
    out.push_back(p.substr(b, e == std::string::npos ? std::string::npos : e - b));
    if (e == std::string::npos) break;
    b = e + 1;
  }
  return out;
}

void check_rel_path(const std::string& p, const std::string& file, const std::string& what) {
  if (p.empty() || p.size() > kMaxNameLen)
    throw_error(ErrorKind::Format, what + " name is empty or longer than 64 KiB", file, p.substr(0, 200));
  for (const auto& c : split_path(p))
    if (c.empty() || c == ".")
      throw_error(ErrorKind::Format, what + " path has an empty or '.' component", file, p);
}

std::pair<H, H5I_type_t> open_rel(hid_t start, const std::string& rel, const std::string& file,
                                  const std::string& tensor, const std::function<void(hid_t, const std::string&)>& check_group) {
  H cur;
  hid_t at = start;
  const auto comps = split_path(rel);
  for (std::size_t i = 0; i < comps.size(); ++i) {
    const std::string& c = comps[i];
    check_group(at, "the group holding '" + c + "' on the path '" + rel + "'");
    htri_t ex = H5Lexists(at, c.c_str(), H5P_DEFAULT);
    if (ex < 0) throw_error(ErrorKind::Format, "cannot look up '" + c + "'" + h5_err(), file, tensor);
    if (ex == 0) throw_error(ErrorKind::Format, "no object named '" + c + "' on the path '" + rel + "'", file, tensor);
    H5L_info_t li;
    if (H5Lget_info(at, c.c_str(), &li, H5P_DEFAULT) < 0)
      throw_error(ErrorKind::Format, "cannot read link '" + c + "'" + h5_err(), file, tensor);
    if (li.type != H5L_TYPE_HARD)
      throw_error(ErrorKind::Security,
                  std::string("'") + c + "' is " + (li.type == H5L_TYPE_EXTERNAL ? "an external link" : li.type == H5L_TYPE_SOFT ? "a soft link" : "a user-defined link") +
                      "; only hard links inside the file are followed",
                  file, tensor);
    H next(H5Oopen(at, c.c_str(), H5P_DEFAULT), close_object);
    if (!next.ok()) throw_error(ErrorKind::Format, "cannot open '" + c + "'" + h5_err(), file, tensor);
    H5I_type_t t = H5Iget_type(next.get());
    if (i + 1 < comps.size() && t != H5I_GROUP)
      throw_error(ErrorKind::Format, "'" + c + "' on the path '" + rel + "' is not a group", file, tensor);
    cur = std::move(next);
    at = cur.get();
  }
  H5I_type_t t = H5Iget_type(cur.get());
  return {std::move(cur), t};
}

H make_fapl() {
  H fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
#if H5_VERSION_GE(1, 10, 7)
  H5Pset_file_locking(fapl.get(), false, true);  // read-only mounts, no flock support
#endif
  return fapl;
}

}  // namespace hfx::h5
