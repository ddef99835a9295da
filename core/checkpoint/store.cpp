#include "store.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "../plugins/loader.hpp"
#include "dir_backend.hpp"

namespace plugfit {

CheckpointUri parse_checkpoint_uri(const std::string& uri) {
  CheckpointUri out;
  std::string rest = uri;
  if (const auto hash = rest.rfind('#'); hash != std::string::npos) {
    out.name = rest.substr(hash + 1);
    rest = rest.substr(0, hash);
  }
  const auto colon = rest.find(':');
  const bool has_scheme = colon != std::string::npos && colon > 0 && rest.find('/') > colon;
  out.scheme = has_scheme ? rest.substr(0, colon) : "dir";
  out.location = has_scheme ? rest.substr(colon + 1) : rest;
  if (out.location.empty()) throw InputError("the checkpoint URI \"" + uri + "\" names no location");
  return out;
}

std::unique_ptr<CheckpointBackend> open_backend(const CheckpointUri& uri, const Registry& registry,
                                                PluginLoader* loader) {
  if (uri.scheme == "dir") return std::make_unique<DirBackend>(uri.location);
  if (registry.find(TypeKind::checkpoint_backend, uri.scheme) == nullptr && loader != nullptr) {
    // A backend plugin is conventionally named after its scheme: "sqlite" -> sqlite_backend.
    try {
      loader->load(uri.scheme + "_backend");
    } catch (const PluginError&) {
    }
  }
  if (registry.find(TypeKind::checkpoint_backend, uri.scheme) == nullptr) {
    std::string known = "dir";
    for (const auto& n : registry.names(TypeKind::checkpoint_backend)) known += ", " + n;
    throw InputError("no checkpoint backend for \"" + uri.scheme + ":\" URIs (known: " + known +
                     "; a plugin named " + uri.scheme + "_backend on the plugin path would provide it)");
  }
  return registry.create_checkpoint_backend(uri.scheme, {{"path", uri.location}});
}

namespace {

Json index_of(const CheckpointBackend& backend) {
  Json index = backend.read_index();
  if (!index.is_object()) index = Json::object();
  if (!index.contains("checkpoints") || !index["checkpoints"].is_array()) index["checkpoints"] = Json::array();
  index["format"] = 1;
  return index;
}

bool better(double a, double b, const std::string& mode) { return mode == "max" ? a > b : a < b; }

}  // namespace

void note_saved(CheckpointBackend& backend, const SaveNote& note, const std::string& monitor, const std::string& mode) {
  Json index = index_of(backend);
  auto& list = index["checkpoints"];
  for (auto it = list.begin(); it != list.end();)
    it = it->value("name", "") == note.name ? list.erase(it) : it + 1;
  list.push_back({{"name", note.name},
                  {"epoch", note.epoch},
                  {"global_step", note.global_step},
                  {"kind", note.kind},
                  {"writer", note.writer},
                  {"metrics", note.metrics}});
  index["latest"] = note.name;
  if (!monitor.empty() && note.metrics.contains(monitor) && note.metrics[monitor].is_number()) {
    const double value = note.metrics[monitor].get<double>();
    const Json& best = index.value("best", Json::object());
    const bool same_criterion = best.value("monitor", "") == monitor && best.value("mode", "") == mode;
    if (!same_criterion || !best.contains("value") || better(value, best["value"].get<double>(), mode) ||
        best.value("name", "") == note.name)
      index["best"] = {{"name", note.name}, {"monitor", monitor}, {"mode", mode}, {"value", value}};
  }
  backend.write_index(index);
}

void note_removed(CheckpointBackend& backend, const std::string& name) {
  Json index = index_of(backend);
  auto& list = index["checkpoints"];
  for (auto it = list.begin(); it != list.end();)
    it = it->value("name", "") == name ? list.erase(it) : it + 1;
  if (index.value("latest", "") == name) index["latest"] = list.empty() ? Json() : list.back()["name"];
  if (index.contains("best") && index["best"].value("name", "") == name) index.erase("best");
  backend.write_index(index);
}

std::optional<std::string> resolve_checkpoint_name(const CheckpointBackend& backend, const std::string& name) {
  const auto names = backend.list();
  auto held = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
  if (!name.empty() && name != "latest" && name != "best") {
    check_checkpoint_name(name);
    if (!held(name)) throw InputError("no checkpoint \"" + name + "\" in " + backend.uri());
    return name;
  }
  const Json index = backend.read_index();
  if (name == "best") {
    const std::string best = index.value("best", Json::object()).value("name", "");
    if (best.empty() || !held(best)) throw InputError(backend.uri() + " records no best checkpoint");
    return best;
  }
  const std::string latest = index.value("latest", Json()).is_string() ? index["latest"].get<std::string>() : "";
  if (!latest.empty() && held(latest)) return latest;
  if (names.empty()) return std::nullopt;
  return names.back();
}

std::optional<std::pair<std::string, CheckpointRecord>> load_latest_good(
    const CheckpointBackend& backend, bool full_only, const std::function<void(const std::string&)>& warn) {
  std::vector<std::string> order = backend.list();
  // The index's latest first (saves of one name move it), then the rest newest first.
  if (auto latest = resolve_checkpoint_name(backend, "")) {
    order.erase(std::remove(order.begin(), order.end(), *latest), order.end());
    order.push_back(*latest);
  }
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    try {
      CheckpointRecord record = backend.load(*it);
      if (full_only && record.info.value("kind", "") != "full") continue;
      return std::make_pair(*it, std::move(record));
    } catch (const CheckpointCorrupt& e) {
      warn(e.what());
    }
  }
  return std::nullopt;
}

CheckpointManager::CheckpointManager(std::unique_ptr<CheckpointBackend> backend, ManagerOptions options)
    : backend_(std::move(backend)), options_(std::move(options)) {
  if (options_.max_to_keep && *options_.max_to_keep == 0) throw InputError("\"max_to_keep\" must be at least 1");
  if (options_.keep_every_n_epochs && *options_.keep_every_n_epochs < 1)
    throw InputError("\"keep_every_n_epochs\" must be at least 1");
  if (options_.mode != "min" && options_.mode != "max") throw InputError("the manager's mode must be min or max");
}

std::optional<std::pair<std::string, CheckpointRecord>> CheckpointManager::restore_or_initialize(
    const std::function<void(const std::string&)>& warn) {
  auto found = load_latest_good(*backend_, true, warn);
  if (found) protect(found->first);
  return found;
}

std::string CheckpointManager::save(const CheckpointRecord& record, int epoch, std::int64_t batch,
                                    std::int64_t global_step, const Logs& metrics) {
  char name[64];
  if (batch == 0) std::snprintf(name, sizeof name, "ckpt-%04d", epoch);
  else std::snprintf(name, sizeof name, "ckpt-%04d-%06lld", epoch, static_cast<long long>(batch));
  backend_->save(name, record);
  note_saved(*backend_, {name, epoch, global_step, record.info.value("kind", "full"), "manager", metrics.to_json()},
             options_.monitor, options_.mode);
  if (!options_.max_to_keep) return name;

  // Retire the oldest of our own checkpoints beyond max_to_keep, after the new one is safe.
  const Json index = backend_->read_index();
  const std::string best = index.value("best", Json::object()).value("name", "");
  std::vector<Json> ours;
  for (const auto& entry : index["checkpoints"])
    if (entry.value("writer", "") == "manager") ours.push_back(entry);
  const std::size_t keep = *options_.max_to_keep;
  for (std::size_t i = 0; i + keep < ours.size(); ++i) {
    const std::string victim = ours[i]["name"];
    const int victim_epoch = ours[i].value("epoch", 0);
    const bool kept_every_n = options_.keep_every_n_epochs && victim_epoch % *options_.keep_every_n_epochs == 0 &&
                              ours[i].value("global_step", 0) > 0 && victim.find('-', 5) == std::string::npos;
    if (victim == protected_ || victim == best || victim == name || kept_every_n) continue;
    backend_->remove(victim);
    note_removed(*backend_, victim);
  }
  return name;
}

}  // namespace plugfit
