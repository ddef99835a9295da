#include "store.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "../plugin_loading/loader.hpp"
#include "dir_backend.hpp"

namespace plugfit {

namespace fs = std::filesystem;

namespace {

// Makes sure the registry has a backend for uri's scheme, loading its plugin by the naming
// convention when needed; an InputError listing the known schemes otherwise.
void require_backend_type(const CheckpointUri& uri, const Registry& registry, PluginLoader* loader) {
  if (uri.scheme == "dir" || registry.find(TypeKind::checkpoint_backend, uri.scheme) != nullptr) return;
  if (loader != nullptr) {
    // A backend plugin is conventionally named after its scheme: "sqlite" -> sqlite_backend.
    try {
      loader->load(uri.scheme + "_backend");
    } catch (const PluginError&) {
    }
    if (registry.find(TypeKind::checkpoint_backend, uri.scheme) != nullptr) return;
  }
  std::string known;
  for (const auto& scheme : known_backend_schemes(registry, loader)) known += (known.empty() ? "" : ", ") + scheme;
  throw InputError("no checkpoint backend for \"" + uri.scheme + ":\" URIs (known: " + known + "; a plugin named " +
                   uri.scheme + "_backend on the plugin path would provide it)");
}

}  // namespace

std::unique_ptr<CheckpointBackend> open_backend(const CheckpointUri& uri, const Registry& registry,
                                                PluginLoader* loader) {
  require_backend_type(uri, registry, loader);
  if (uri.scheme == "dir") return std::make_unique<DirBackend>(uri.location);
  return registry.create_checkpoint_backend(uri.scheme, {{"path", uri.location}});
}

std::unique_ptr<CheckpointBackend> open_existing_backend(const CheckpointUri& uri, const Registry& registry,
                                                         PluginLoader* loader) {
  require_backend_type(uri, registry, loader);
  const fs::path path(uri.location);
  std::error_code ec;
  // A TensorFlow checkpoint prefix names no file itself: PREFIX.index is there.
  if (!fs::exists(path, ec) && !(uri.scheme == "tf" && fs::is_regular_file(uri.location + ".index", ec))) {
    const std::string where = path.is_absolute() ? "" : " (looked at " + fs::absolute(path, ec).string() + ")";
    throw InputError("the checkpoint location " + uri.text() + " does not exist" + where);
  }
  return open_backend(uri, registry, loader);
}

std::vector<std::string> known_backend_schemes(const Registry& registry, const PluginLoader* loader) {
  std::set<std::string> schemes = {"dir"};
  for (const auto& name : registry.names(TypeKind::checkpoint_backend))
    schemes.insert(name.substr(name.find('>') + 1));
  if (loader != nullptr) {
    // As open_backend finds them: S is loadable when plugin S_backend provides the backend S.
    const std::string prefix = std::string("checkpoint backend ");
    for (const auto& plugin : loader->scan().plugins)
      for (const auto& type : plugin.types) {
        if (type.rfind(prefix, 0) != 0) continue;
        const std::string scheme = type.substr(type.find('>') + 1);
        if (plugin.name == scheme + "_backend") schemes.insert(scheme);
      }
  }
  return {schemes.begin(), schemes.end()};
}

std::pair<std::string, CheckpointRecord> load_named(const CheckpointBackend& backend, const CheckpointUri& uri) {
  const auto name = resolve_checkpoint_name(backend, uri.name);
  if (!name) throw InputError(backend.uri() + " holds no checkpoints");
  return {*name, backend.load(*name)};
}

void start_fresh_run(CheckpointBackend& backend, bool overwrite) {
  const std::vector<std::string> held = backend.list();
  if (held.empty()) return;
  if (!overwrite)
    throw InputError(backend.uri() + " already holds " + std::to_string(held.size()) +
                     (held.size() == 1 ? " checkpoint" : " checkpoints") +
                     " of an earlier run; continue it with --resume, train into a new location, or pass "
                     "--overwrite to remove them first");
  for (const auto& name : held) backend.remove(name);
  backend.write_index(Json::object());
}

void note_saved(CheckpointBackend& backend, const CheckpointEntry& entry, const Monitor* monitor) {
  CheckpointIndex index = CheckpointIndex::read(backend);
  index.note_saved(entry, monitor);
  index.write(backend);
}

void note_removed(CheckpointBackend& backend, const std::string& name) {
  CheckpointIndex index = CheckpointIndex::read(backend);
  index.note_removed(name);
  index.write(backend);
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
      const Json kind = record.info.is_object() ? record.info.value("kind", Json()) : Json();
      if (full_only && kind != "full") {
        // A weights-only checkpoint is skipped quietly (the caller may use it); anything else
        // that loads but says no kind plugfit writes is damaged, and says so.
        if (kind != "weights")
          warn(backend.uri() + "/" + *it + " is not a checkpoint plugfit can resume (its info has " +
               (kind.is_null() ? std::string("no \"kind\"") : "the kind " + kind.dump()) + ")");
        continue;
      }
      return std::make_pair(*it, std::move(record));
    } catch (const CheckpointCorrupt& e) {
      warn(e.what());
    }
  }
  return std::nullopt;
}

CheckpointManager::CheckpointManager(std::unique_ptr<CheckpointBackend> backend, ManagerOptions options)
    : backend_(std::move(backend)),
      options_(std::move(options)),
      best_monitor_("the checkpoint manager", options_.monitor, options_.mode) {
  if (options_.max_to_keep && *options_.max_to_keep == 0) throw InputError("\"max_to_keep\" must be at least 1");
  if (options_.keep_every_n_epochs && *options_.keep_every_n_epochs < 1)
    throw InputError("\"keep_every_n_epochs\" must be at least 1");
  if (!best_monitor_.resolved()) throw InputError("the manager's mode must be min or max");
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
  CheckpointIndex index = CheckpointIndex::read(*backend_);
  index.note_saved({name, epoch, global_step, record.info.value("kind", "full"), "manager", metrics.to_json()},
                   &best_monitor_);
  index.write(*backend_);
  if (!options_.max_to_keep) return name;

  // Retire the oldest of our own checkpoints beyond max_to_keep, after the new one is safe.
  const std::string best = index.best ? index.best->name : "";
  std::vector<CheckpointEntry> ours;
  for (const auto& entry : index.checkpoints)
    if (entry.writer == "manager") ours.push_back(entry);
  const std::size_t keep = *options_.max_to_keep;
  for (std::size_t i = 0; i + keep < ours.size(); ++i) {
    const std::string& victim = ours[i].name;
    const bool kept_every_n = options_.keep_every_n_epochs && ours[i].epoch % *options_.keep_every_n_epochs == 0 &&
                              ours[i].global_step > 0 && victim.find('-', 5) == std::string::npos;
    if (victim == protected_ || victim == best || victim == name || kept_every_n) continue;
    backend_->remove(victim);
    note_removed(*backend_, victim);
  }
  return name;
}

}  // namespace plugfit
