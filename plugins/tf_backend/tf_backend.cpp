// tf_backend: the read-only "tf:PATH" checkpoint backend, TensorFlow's own formats.
//
// PATH is one of:
//   a checkpoint prefix      PATH.index beside PATH.data-0000K-of-0000N (tf.train.Checkpoint,
//                            Keras's save_weights in TF format): one checkpoint, named PATH's leaf
//   a checkpoint folder      PATH/checkpoint, TF's text file (CheckpointManager, ModelCheckpoint):
//                            list() is all_model_checkpoint_paths (model_checkpoint_path added
//                            if missing), the index's latest is model_checkpoint_path, as
//                            tf.train.latest_checkpoint reads it; each is a prefix in PATH
//   a SavedModel folder      PATH/saved_model.pb with PATH/variables/variables.index: one
//                            checkpoint "saved_model", its architecture from PATH/keras_metadata.pb
// Read-only: save, remove and write_index throw InputError (plugfit convert copies the
// checkpoints to a backend that writes). Files are input: paths in the `checkpoint` file are
// looked up in PATH only (relative names as TF joins them; an absolute or nested path is taken by
// its leaf, which must be in PATH), and saved_model.pb is not parsed (its graph is not run).
#include <filesystem>
#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>
#include <plugfit/sdk.hpp>

#include "tensor_bundle.hpp"
#include "tf_record.hpp"

namespace {

using namespace plugfit;
namespace fs = std::filesystem;

constexpr const char* kSavedModelName = "saved_model";
constexpr std::uint64_t kMaxMetadata = 64ull << 20;  // keras_metadata.pb: its JSON, some MB at most
constexpr std::uint64_t kMaxStateFile = 1ull << 20;  // TF's `checkpoint` text file

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// One value of a `checkpoint` file line `key: "value"` (text-format CheckpointState), C escapes
// \" and \\ undone.
std::optional<std::string> quoted_value(const std::string& line, const std::string& key) {
  std::size_t p = line.find_first_not_of(" \t");
  if (p == std::string::npos || line.compare(p, key.size(), key) != 0) return std::nullopt;
  p = line.find_first_not_of(" \t", p + key.size());
  if (p == std::string::npos || line[p] != ':') return std::nullopt;
  p = line.find_first_not_of(" \t", p + 1);
  if (p == std::string::npos || line[p] != '"') return std::nullopt;
  std::string out;
  for (++p; p < line.size() && line[p] != '"'; ++p) {
    if (line[p] == '\\' && p + 1 < line.size()) ++p;
    out += line[p];
  }
  if (p >= line.size()) return std::nullopt;
  return out;
}

class TfBackend final : public CheckpointBackend {
 public:
  explicit TfBackend(Config& config) : path_(fs::absolute(config.require<std::string>("path")).lexically_normal()) {
    std::error_code ec;
    if (fs::is_directory(path_, ec)) {
      if (is_file(path_ / "saved_model.pb")) {
        saved_model_ = true;
        held_.push_back({kSavedModelName, path_ / "variables" / "variables"});
      } else if (is_file(path_ / "checkpoint")) {
        read_state_file();
      } else {
        throw InputError("tf:" + path_.string() + " is a folder with neither saved_model.pb (a SavedModel) nor TF's " +
                         "checkpoint file (a checkpoint folder)");
      }
    } else if (is_file(fs::path(path_.string() + ".index"))) {
      held_.push_back({path_.filename().string(), path_});
    } else {
      throw InputError("tf:" + path_.string() + " is no SavedModel folder, no folder with a checkpoint file, and no " +
                       "checkpoint prefix (" + path_.string() + ".index does not exist)");
    }
  }

  void save(const std::string&, const CheckpointRecord&) override { refuse("save a checkpoint to"); }
  void remove(const std::string&) override { refuse("remove a checkpoint from"); }
  void write_index(const Json&) override { refuse("write an index to"); }

  CheckpointRecord load(const std::string& name) const override {
    const Held* held = find(name);
    if (held == nullptr) throw InputError("checkpoint \"" + name + "\" in " + uri() + " does not exist");
    try {
      const tf_files::TensorBundle bundle(held->prefix);
      std::optional<std::string> metadata;
      const fs::path metadata_path = path_ / "keras_metadata.pb";
      if (saved_model_) {
        if (!is_file(metadata_path))
          throw InputError(path_.string() + " is a SavedModel without keras_metadata.pb; plugfit reads Keras SavedModels only");
        metadata = tf_files::read_whole_file(metadata_path, kMaxMetadata);
      }
      return plugfit_tf::tf_record(bundle, metadata, metadata_path.string(), uri() + (saved_model_ ? "" : "#" + name));
    } catch (const tf_files::FormatError& e) {
      throw InputError(e.what());
    }
  }

  std::vector<std::string> list() const override {
    std::vector<std::string> names;
    for (const auto& h : held_) names.push_back(h.name);
    return names;
  }

  Json read_index() const override {
    if (latest_.empty()) return Json::object();
    return {{"format", 1}, {"latest", latest_}};
  }

  std::string uri() const override { return "tf:" + path_.string(); }

 private:
  struct Held {
    std::string name;
    fs::path prefix;
  };

  [[noreturn]] void refuse(const std::string& what) const {
    throw InputError("the tf: backend is read-only: plugfit cannot " + what + " " + uri() +
                     " (plugfit convert copies its checkpoints to a backend that writes, dir: or hdf5:)");
  }

  const Held* find(const std::string& name) const {
    for (const auto& h : held_)
      if (h.name == name) return &h;
    return nullptr;
  }

  // TF's CheckpointState text: model_checkpoint_path and all_model_checkpoint_paths, as
  // tf.train.get_checkpoint_state reads it. Names resolve in this folder only.
  void read_state_file() {
    const fs::path file = path_ / "checkpoint";
    std::string text;
    try {
      text = tf_files::read_whole_file(file, kMaxStateFile);
    } catch (const tf_files::FormatError& e) {
      throw InputError(e.what());
    }
    std::istringstream in(text);
    std::string line, latest;
    std::vector<std::string> all;
    while (std::getline(in, line)) {
      if (auto v = quoted_value(line, "model_checkpoint_path")) latest = *v;
      else if (auto w = quoted_value(line, "all_model_checkpoint_paths")) all.push_back(*w);
      else if (line.find_first_not_of(" \t\r") != std::string::npos && !quoted_value(line, "all_model_checkpoint_timestamps") &&
               line.find("last_preserved_timestamp") == std::string::npos &&
               line.find("all_model_checkpoint_timestamps") == std::string::npos)
        throw InputError(file.string() + ": the line \"" + line + "\" is not TF's checkpoint state");
    }
    if (latest.empty()) throw InputError(file.string() + " names no model_checkpoint_path");
    if (std::find(all.begin(), all.end(), latest) == all.end()) all.push_back(latest);  // TF lists it last
    for (const auto& p : all) {
      const std::string name = resolve(p, file);
      if (!find(name)) held_.push_back({name, path_ / name});
    }
    latest_ = resolve(latest, file);
  }

  std::string resolve(const std::string& written, const fs::path& file) const {
    const std::string leaf = fs::path(written).filename().string();
    if (leaf.empty() || leaf == "." || leaf == ".." || leaf[0] == '.')
      throw InputError(file.string() + " names the checkpoint \"" + written + "\", which is no checkpoint prefix");
    if (!is_file(path_ / (leaf + ".index")))
      throw InputError(file.string() + " names the checkpoint \"" + written + "\", but " +
                       (path_ / (leaf + ".index")).string() + " does not exist" +
                       (written != leaf ? " (plugfit looks for a checkpoint in the folder of its checkpoint file only)" : ""));
    return leaf;
  }

  fs::path path_;
  bool saved_model_ = false;
  std::vector<Held> held_;
  std::string latest_;
};

void register_types(Registrar& registrar) { registrar.add_checkpoint_backend<TfBackend>("tf"); }

}  // namespace

PLUGFIT_PLUGIN_DESCRIBED("tf_backend", "0.1.0",
                         "tf: TensorFlow checkpoints (a prefix, a folder with TF's checkpoint file) and Keras "
                         "SavedModel folders, read-only, with plugfit's own readers",
                         register_types)
