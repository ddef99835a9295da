#include <plugfit/registry.hpp>

#include <algorithm>
#include <cctype>

#include "../training/callback_access.hpp"
#include "../util/rethrow.hpp"

namespace plugfit {

const char* kind_name(TypeKind kind) {
  switch (kind) {
    case TypeKind::layer: return "layer";
    case TypeKind::callback: return "callback";
    case TypeKind::optimizer: return "optimizer";
    case TypeKind::loss: return "loss";
    case TypeKind::metric: return "metric";
    case TypeKind::checkpoint_backend: return "checkpoint backend";
    case TypeKind::schedule: return "schedule";
    case TypeKind::communicator: return "communicator";
  }
  return "type";
}

namespace {
std::string short_name(const std::string& qualified) {
  const auto pos = qualified.find('>');
  return pos == std::string::npos ? qualified : qualified.substr(pos + 1);
}
std::string provider_label(const TypeEntry& e) {
  return e.provider.empty() ? "plugfit (built in)" : "plugin " + e.provider + " " + e.provider_version;
}
std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}
}  // namespace

Registry::Registry() = default;
Registry::~Registry() = default;

Registrar::Registrar(Registry& registry, std::string provider, std::string provider_version)
    : registry_(registry), provider_(std::move(provider)), provider_version_(std::move(provider_version)) {}

namespace {
// A letter or '_', then letters, digits, '_', '.' or '-': no '>' (the host adds the provider),
// nothing a run file or URI could not spell back.
bool well_formed_type_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  const auto first = static_cast<unsigned char>(name.front());
  if (!std::isalpha(first) && first != '_') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || c == '_' || c == '.' || c == '-';
  });
}
}  // namespace

void Registrar::add_entry(TypeKind kind, std::string_view name, std::function<void*(Config&)> factory) {
  if (!well_formed_type_name(name)) {
    const std::string who = provider_.empty() ? std::string("plugfit") : "plugin " + provider_;
    throw InputError(who + " cannot register the " + kind_name(kind) + " \"" + std::string(name) +
                     "\": a type name is a letter or '_' followed by up to 63 letters, digits, '_', '.' or '-'" +
                     (name.find('>') != std::string_view::npos
                          ? " (no '>': the host qualifies a plugin's types with the plugin's own name)"
                          : ""));
  }
  registry_.insert(TypeEntry{provider_.empty() ? std::string(name) : provider_ + ">" + std::string(name), kind,
                             provider_, provider_version_, std::move(factory)});
}

void Registry::remove_provider(const std::string& plugin) {
  std::erase_if(entries_, [&](const auto& item) { return item.second.provider == plugin; });
}

void Registry::insert(TypeEntry entry) {
  // Keys carry the kind so that a layer and a callback may share a name.
  const std::string key = std::string(kind_name(entry.kind)) + ":" + entry.name;
  if (auto it = entries_.find(key); it != entries_.end())
    throw InputError(std::string("the ") + kind_name(entry.kind) + " type \"" + entry.name +
                     "\" is registered twice: by " + provider_label(it->second) + " and by " + provider_label(entry));
  entries_.emplace(key, std::move(entry));
}

const TypeEntry* Registry::find(TypeKind kind, std::string_view name) const {
  const std::string prefix = std::string(kind_name(kind)) + ":";
  if (auto it = entries_.find(prefix + std::string(name)); it != entries_.end()) return &it->second;
  if (name.find('>') != std::string_view::npos) return nullptr;
  const TypeEntry* match = nullptr;
  for (const auto& [key, entry] : entries_) {
    if (entry.kind != kind || entry.provider.empty() || short_name(entry.name) != name) continue;
    if (match != nullptr) return nullptr;  // ambiguous: resolve() explains
    match = &entry;
  }
  return match;
}

const TypeEntry& Registry::resolve(TypeKind kind, std::string_view name) const {
  if (const TypeEntry* e = find(kind, name)) return *e;
  std::vector<std::string> candidates;
  for (const auto& [key, entry] : entries_)
    if (entry.kind == kind && short_name(entry.name) == name) candidates.push_back(entry.name);
  if (candidates.size() > 1)
    throw InputError(std::string("the ") + kind_name(kind) + " name \"" + std::string(name) +
                     "\" is ambiguous; qualify it as one of: " + join(candidates));
  throw InputError(std::string("unknown ") + kind_name(kind) + " " + json_excerpt(Json(std::string(name))) + " (known: " +
                   join(names(kind)) + ")");
}

std::vector<std::string> Registry::names(TypeKind kind) const {
  std::vector<std::string> out;
  for (const auto& [key, entry] : entries_)
    if (entry.kind == kind) out.push_back(entry.name);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<const TypeEntry*> Registry::entries() const {
  std::vector<const TypeEntry*> out;
  for (const auto& [key, entry] : entries_) out.push_back(&entry);
  return out;
}

void* Registry::create(TypeKind kind, std::string_view name, const Json& config, const TypeEntry** out) const {
  const TypeEntry& entry = resolve(kind, name);
  *out = &entry;
  Config reader(config, entry.name);
  reader.set_registry(this);
  void* made = nullptr;
  try {
    made = entry.factory(reader);
  } catch (const InputError&) {
    throw;
  } catch (...) {
    rethrow_as_failure(std::string(kind_name(kind)) + " " + entry.name +
                       (entry.provider.empty() ? "" : " (" + entry.origin() + ")") + " failed in its constructor");
  }
  try {
    reader.check_all_used();
  } catch (...) {
    // The caller owns nothing yet: destroy through the kind's base class.
    switch (kind) {
      case TypeKind::layer: delete static_cast<Layer*>(made); break;
      case TypeKind::callback: delete static_cast<Callback*>(made); break;
      case TypeKind::optimizer: delete static_cast<Optimizer*>(made); break;
      case TypeKind::loss: delete static_cast<Loss*>(made); break;
      case TypeKind::metric: delete static_cast<Metric*>(made); break;
      case TypeKind::checkpoint_backend: delete static_cast<CheckpointBackend*>(made); break;
      case TypeKind::schedule: delete static_cast<LearningRateSchedule*>(made); break;
      case TypeKind::communicator: delete static_cast<Communicator*>(made); break;
    }
    throw;
  }
  return made;
}

std::unique_ptr<Layer> Registry::create_layer(std::string_view name, const Json& config) const {
  const TypeEntry* e;
  return std::unique_ptr<Layer>(static_cast<Layer*>(create(TypeKind::layer, name, config, &e)));
}

std::unique_ptr<Callback> Registry::create_callback(std::string_view name, const Json& config) const {
  const TypeEntry* e;
  std::unique_ptr<Callback> cb(static_cast<Callback*>(create(TypeKind::callback, name, config, &e)));
  CallbackAccess::set_type_name(*cb, e->name);
  CallbackAccess::set_origin(*cb, e->origin());
  return cb;
}

std::unique_ptr<Optimizer> Registry::create_optimizer(std::string_view name, const Json& config) const {
  const TypeEntry* e;
  return std::unique_ptr<Optimizer>(static_cast<Optimizer*>(create(TypeKind::optimizer, name, config, &e)));
}

std::unique_ptr<Loss> Registry::create_loss(std::string_view name, const Json& config) const {
  const TypeEntry* e;
  return std::unique_ptr<Loss>(static_cast<Loss*>(create(TypeKind::loss, name, config, &e)));
}

std::unique_ptr<Metric> Registry::create_metric(std::string_view name, const Json& config) const {
  const TypeEntry* e;
  std::unique_ptr<Metric> m(static_cast<Metric*>(create(TypeKind::metric, name, config, &e)));
  m->set_name(std::string(name));
  return m;
}

std::unique_ptr<CheckpointBackend> Registry::create_checkpoint_backend(std::string_view scheme, const Json& config) const {
  const TypeEntry* e;
  return std::unique_ptr<CheckpointBackend>(
      static_cast<CheckpointBackend*>(create(TypeKind::checkpoint_backend, scheme, config, &e)));
}

std::unique_ptr<LearningRateSchedule> Registry::create_schedule(std::string_view name, const Json& config) const {
  const TypeEntry* e;
  return std::unique_ptr<LearningRateSchedule>(
      static_cast<LearningRateSchedule*>(create(TypeKind::schedule, name, config, &e)));
}

std::unique_ptr<Communicator> Registry::create_communicator(std::string_view name, const Json& config) const {
  const TypeEntry* e;
  return std::unique_ptr<Communicator>(static_cast<Communicator*>(create(TypeKind::communicator, name, config, &e)));
}

LearningRateSchedule::~LearningRateSchedule() = default;
Communicator::~Communicator() = default;

}  // namespace plugfit
