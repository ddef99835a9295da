// The SDK's checkpoint URIs and index (plugfit/checkpoint_index.hpp).
#include <plugfit/checkpoint_index.hpp>

#include <algorithm>
#include <filesystem>
#include <cctype>

namespace plugfit {

namespace {

// TensorFlow's locations have no telling name: the one filesystem look of the grammar. A folder
// with saved_model.pb (a SavedModel) or TF's `checkpoint` file, or a prefix P with P.index
// beside it, means "tf". Only paths that are there already are looked at, so a location a run is
// about to create is never taken for one.
bool is_tensorflow_location(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec))
    return fs::is_regular_file(fs::path(path) / "saved_model.pb", ec) ||
           (fs::is_regular_file(fs::path(path) / "checkpoint", ec) && !fs::exists(fs::path(path) / "index.json", ec));
  return !fs::exists(path, ec) && fs::is_regular_file(path + ".index", ec);
}

// The scheme a plain path means by its name: Keras's file names are HDF5 files or zips the
// hdf5: backend reads, a database an sqlite: file; TensorFlow's folders and prefixes tf:; any
// other path is a folder.
std::string scheme_for_bare_path(const std::string& path) {
  std::string lower = path;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto ends_with = [&](const std::string& suffix) {
    return lower.size() > suffix.size() && lower.compare(lower.size() - suffix.size(), suffix.size(), suffix) == 0 &&
           lower[lower.size() - suffix.size() - 1] != '/';
  };
  for (const char* suffix : {".keras", ".h5", ".hdf5"})
    if (ends_with(suffix)) return "hdf5";
  for (const char* suffix : {".db", ".sqlite"})
    if (ends_with(suffix)) return "sqlite";
  if (is_tensorflow_location(path)) return "tf";
  return "dir";
}

}  // namespace

CheckpointUri parse_checkpoint_uri(const std::string& uri) {
  CheckpointUri out;
  std::string rest = uri;
  if (const auto hash = rest.rfind('#'); hash != std::string::npos) {
    out.name = rest.substr(hash + 1);
    rest = rest.substr(0, hash);
  }
  const auto colon = rest.find(':');
  const bool has_scheme = colon != std::string::npos && colon > 0 && rest.find('/') > colon;
  out.scheme = has_scheme ? rest.substr(0, colon) : scheme_for_bare_path(rest);
  out.location = has_scheme ? rest.substr(colon + 1) : rest;
  if (out.location.empty()) throw InputError("the checkpoint URI \"" + uri + "\" names no location");
  return out;
}

namespace {

// json[key] when it has the type is_type accepts, else nothing.
template <typename T, typename Check>
std::optional<T> field(const Json& json, const char* key, Check is_type) {
  const auto it = json.find(key);
  if (it == json.end() || !is_type(*it)) return std::nullopt;
  return it->template get<T>();
}

bool is_string(const Json& j) { return j.is_string(); }
bool is_integer(const Json& j) { return j.is_number_integer(); }
bool is_number(const Json& j) { return j.is_number(); }

std::optional<CheckpointEntry> entry_from_json(const Json& json) {
  if (!json.is_object()) return std::nullopt;
  CheckpointEntry entry;
  const auto name = field<std::string>(json, "name", is_string);
  if (!name || name->empty()) return std::nullopt;
  entry.name = *name;
  entry.epoch = field<int>(json, "epoch", is_integer).value_or(0);
  entry.global_step = field<std::int64_t>(json, "global_step", is_integer).value_or(0);
  entry.kind = field<std::string>(json, "kind", is_string).value_or("full");
  entry.writer = field<std::string>(json, "writer", is_string).value_or("");
  if (const auto it = json.find("metrics"); it != json.end() && it->is_object()) entry.metrics = *it;
  return entry;
}

}  // namespace

CheckpointIndex CheckpointIndex::from_json(const Json& json) {
  CheckpointIndex index;
  if (!json.is_object()) return index;
  for (const auto& [key, value] : json.items())
    if (key != "format" && key != "checkpoints" && key != "latest" && key != "best") index.extra[key] = value;
  if (const auto it = json.find("checkpoints"); it != json.end() && it->is_array())
    for (const auto& item : *it)
      if (auto entry = entry_from_json(item)) index.checkpoints.push_back(std::move(*entry));
  index.latest = field<std::string>(json, "latest", is_string);
  if (index.latest && index.latest->empty()) index.latest.reset();
  if (const auto it = json.find("best"); it != json.end() && it->is_object()) {
    const auto name = field<std::string>(*it, "name", is_string);
    const auto value = field<double>(*it, "value", is_number);
    if (name && !name->empty() && value)
      index.best = BestCheckpoint{*name, field<std::string>(*it, "monitor", is_string).value_or(""),
                                  field<std::string>(*it, "mode", is_string).value_or(""), *value};
  }
  return index;
}

Json CheckpointIndex::to_json() const {
  Json out = extra.is_object() ? extra : Json::object();
  out["format"] = 1;
  Json list = Json::array();
  for (const auto& e : checkpoints)
    list.push_back({{"name", e.name},
                    {"epoch", e.epoch},
                    {"global_step", e.global_step},
                    {"kind", e.kind},
                    {"writer", e.writer},
                    {"metrics", e.metrics}});
  out["checkpoints"] = std::move(list);
  out["latest"] = latest ? Json(*latest) : Json();
  if (best) out["best"] = {{"name", best->name}, {"monitor", best->monitor}, {"mode", best->mode}, {"value", best->value}};
  return out;
}

CheckpointIndex CheckpointIndex::read(const CheckpointBackend& backend) { return from_json(backend.read_index()); }

const CheckpointEntry* CheckpointIndex::find(const std::string& name) const {
  for (const auto& e : checkpoints)
    if (e.name == name) return &e;
  return nullptr;
}

void CheckpointIndex::note_saved(CheckpointEntry entry, const Monitor* monitor) {
  std::erase_if(checkpoints, [&](const CheckpointEntry& e) { return e.name == entry.name; });
  latest = entry.name;
  if (monitor != nullptr) {
    const auto it = entry.metrics.find(monitor->key());
    if (it != entry.metrics.end() && it->is_number()) {
      const double value = it->get<double>();
      const bool same_criterion = best && best->monitor == monitor->key() && best->mode == monitor->mode();
      if (!same_criterion || best->name == entry.name || monitor->better(value, best->value))
        best = BestCheckpoint{entry.name, monitor->key(), monitor->mode(), value};
    }
  }
  checkpoints.push_back(std::move(entry));
}

void CheckpointIndex::note_removed(const std::string& name) {
  std::erase_if(checkpoints, [&](const CheckpointEntry& e) { return e.name == name; });
  if (latest == name) latest = checkpoints.empty() ? std::nullopt : std::optional<std::string>(checkpoints.back().name);
  if (best && best->name == name) best.reset();
}

std::optional<std::string> resolve_checkpoint_name(const CheckpointBackend& backend, const std::string& name) {
  const auto names = backend.list();
  auto held = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
  if (!name.empty() && name != "latest" && name != "best") {
    check_checkpoint_name(name);
    if (!held(name)) throw InputError("no checkpoint \"" + name + "\" in " + backend.uri());
    return name;
  }
  const CheckpointIndex index = CheckpointIndex::read(backend);
  if (name == "best") {
    if (!index.best || !held(index.best->name)) throw InputError(backend.uri() + " records no best checkpoint");
    return index.best->name;
  }
  if (index.latest && held(*index.latest)) return *index.latest;
  if (names.empty()) return std::nullopt;
  return names.back();
}

}  // namespace plugfit
