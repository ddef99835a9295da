// load_dataset: the data specs of the command line and run files, dispatched on the kind before
// the first ':' to the readers in idx.cpp, npy.cpp, csv.cpp, synthetic.cpp and token_lists.cpp.
#include "dataset.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>

#include <plugfit/config.hpp>
#include <plugfit/error.hpp>
#include <plugfit/npy.hpp>

namespace plugfit {

// Defined next to the readers; internal to libplugfit.
namespace detail {
Tensor read_idx_data(const std::string& path, bool scale_u8);                     // idx.cpp
Dataset make_synthetic(const std::string& spec, const std::string& options);    // synthetic.cpp
Dataset read_token_lists(const std::string& spec, const std::string& rest);      // token_lists.cpp
}  // namespace detail

namespace {

constexpr const char* kKinds = "fashion-mnist, idx, csv, npy, synthetic, tokens";
constexpr const char* kFashionDir = "/usr/share/datasets/fashion-mnist";

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// Splits "A,B" at the first comma; B is empty when there is none.
std::pair<std::string, std::string> split_first_comma(const std::string& s) {
  const auto comma = s.find(',');
  if (comma == std::string::npos) return {s, ""};
  return {s.substr(0, comma), s.substr(comma + 1)};
}

// Checks that inputs and labels hold the same number of samples.
void check_counts(const Dataset& d, const std::string& x_file, const std::string& y_file, const char* what) {
  if (d.x.dimension() == 0)
    throw InputError(std::string(what) + " file " + x_file + " holds a scalar, not an array of samples");
  if (!d.has_labels()) return;
  const std::size_t nx = d.x.shape()[0];
  const std::size_t ny = d.y.shape()[0];
  if (nx != ny)
    throw InputError(std::string(what) + " files " + x_file + " and " + y_file + " disagree: " + std::to_string(nx) +
                     " samples but " + std::to_string(ny) + " labels");
}

Dataset load_fashion_mnist(const std::string& spec, const std::string& split) {
  if (split != "train" && split != "test")
    throw InputError("data spec " + quoted(spec) + " names no Fashion-MNIST split (use fashion-mnist:train or " +
                     "fashion-mnist:test)");
  const char* env = std::getenv("PLUGFIT_FASHION_MNIST_DIR");
  const std::string dir = env != nullptr && *env != '\0' ? env : kFashionDir;
  const std::string stem = split == "train" ? "train" : "t10k";
  const std::string images = dir + "/" + stem + "-images-idx3-ubyte.gz";
  const std::string labels = dir + "/" + stem + "-labels-idx1-ubyte.gz";
  for (const auto& path : {images, labels}) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
      throw InputError("Fashion-MNIST file " + path + " does not exist (install it with `apt-get install " +
                       "dataset-fashion-mnist`, or set PLUGFIT_FASHION_MNIST_DIR to a directory holding it)");
  }
  Dataset d;
  d.spec = spec;
  d.x = detail::read_idx_data(images, true);
  d.y = read_idx(labels);
  if (d.x.dimension() != 3 || d.y.dimension() != 1)
    throw InputError("Fashion-MNIST files " + images + " and " + labels + " are not images (n, rows, cols) and " +
                     "labels (n,) but " + full_shape_str(shape_of(d.x)) + " and " + full_shape_str(shape_of(d.y)));
  check_counts(d, images, labels, "Fashion-MNIST");
  return d;
}

Dataset load_idx(const std::string& spec, const std::string& rest) {
  auto [images, labels] = split_first_comma(rest);
  if (images.empty()) throw InputError("data spec " + quoted(spec) + " names no IDX file (use idx:IMAGES,LABELS)");
  Dataset d;
  d.spec = spec;
  d.x = detail::read_idx_data(images, true);
  if (!labels.empty()) d.y = read_idx(labels);
  check_counts(d, images, labels, "IDX");
  return d;
}

Dataset load_npy(const std::string& spec, const std::string& rest) {
  auto [x_file, y_file] = split_first_comma(rest);
  if (x_file.empty()) throw InputError("data spec " + quoted(spec) + " names no NPY file (use npy:X.npy,Y.npy)");
  Dataset d;
  d.spec = spec;
  npy::DType stored = npy::DType::float32;
  d.x = npy::read_file(x_file, &stored);
  if (stored == npy::DType::uint8) d.x /= 255.f;  // the same rule as IDX images
  if (!y_file.empty()) {
    d.y = npy::read_file(y_file);
    if (d.y.dimension() == 0) throw InputError("NPY file " + y_file + " holds a scalar, not an array of labels");
  }
  check_counts(d, x_file, y_file, "NPY");
  return d;
}

Dataset load_csv(const std::string& spec, const std::string& rest) {
  auto [path, options] = split_first_comma(rest);
  if (path.empty())
    throw InputError("data spec " + quoted(spec) + " names no CSV file (use csv:PATH[,label=COLUMN|none]" +
                     "[,header=auto|yes|no])");
  Dataset d = read_csv(path, options);
  d.spec = spec;
  return d;
}

}  // namespace

Dataset load_dataset(const std::string& spec) {
  // Every reader quotes the spec in its sentences; control characters have no place in it.
  if (std::any_of(spec.begin(), spec.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; }))
    throw InputError("data spec " + json_excerpt(Json(spec)) + " holds control characters");
  // A spec without ':' is a bare kind ("synthetic" with its defaults).
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  const std::string rest = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (kind == "fashion-mnist") return load_fashion_mnist(spec, rest);
  if (kind == "idx") return load_idx(spec, rest);
  if (kind == "csv") return load_csv(spec, rest);
  if (kind == "npy") return load_npy(spec, rest);
  if (kind == "synthetic") return detail::make_synthetic(spec, rest);
  if (kind == "tokens") return detail::read_token_lists(spec, rest);
  throw InputError("data spec " + quoted(spec) + " has the unknown kind " + quoted(kind) + " (known: " + kKinds +
                   "; write KIND:ARGUMENTS)");
}

}  // namespace plugfit
